import { CompiledQuery, type Kysely } from 'kysely';
import type { Connection } from 'mysql2';
import { keyValue, type KeyValue } from '../tables/keys.js';
import type { Row, TableDef } from '../tables/types.js';
import type { BatchTransaction, DialectCaps, KeyRequest } from './engine.js';
import { classifyMysql } from './mysql.js';
import { askedKeys, byKey, columnOf, denseSpan, integerKeys, primaryKeyOf } from './rows.js';
import { codecsOf } from './types.js';

/**
 * Engine.batchTransaction's statements on MariaDB/MySQL, on the transaction's own pool connection
 * `conn` (Kysely `trx` runs on it too). Lookups are parameterised SQL rather than Kysely's builder, which
 * for 1000 ids builds a node per value and compiles them anew for every batch. Rows go in as multi-row
 * INSERTs whose values mysql2's escaper writes into the text (as Kysely's queries on mysql2 do). Not
 * prepared statements: mysql2 builds an object per bound value, so encoding 5000 of them took 3x the
 * CPU of the text, for no less work on the server (bench/RESULTS.md).
 * The transaction runs at READ COMMITTED (see insertNew).
 */
export function mysqlBatch(conn: Connection, trx: Kysely<any>, caps: DialectCaps): BatchTransaction {
  return {
    db: trx,
    existingKeys: (requests) => existingKeys(trx, caps, requests),
    insert: (table, rows) => insertNew(conn, trx, caps, table, rows),
  };
}

/**
 * All of a batch's lookups (its references and its own keys) in one statement, a UNION ALL of one
 * SELECT per request tagged with the request's index: a round trip costs the server and Node more
 * than the reads. A dense integer request reads a range of its key (denseSpan), any other its keys,
 * `(a, b) IN ((?, ?), …)` for several columns. The SELECTs give as many key columns as the widest
 * request (NULL beyond their own); a position whose type differs between requests is cast to text,
 * so that UNION's common type converts no value. Also the second look after a duplicate key.
 */
async function existingKeys(
  trx: Kysely<any>,
  caps: DialectCaps,
  requests: KeyRequest[],
): Promise<Set<KeyValue>[]> {
  const width = Math.max(0, ...requests.map((r) => r.columns.length));
  const defs = requests.map((r) => r.columns.map((c) => columnOf(r.table, c)));
  const cast = Array.from(
    { length: width },
    (_, p) => new Set(defs.filter((d) => d.length > p).map((d) => d[p].type)).size > 1,
  );
  const parts: string[] = [];
  const parameters: unknown[] = [];
  requests.forEach((request, i) => {
    const keys = request.keys.filter((k) => !k.includes(null));
    if (keys.length === 0) return;
    const columns = request.columns.map(quote);
    const select = Array.from({ length: width }, (_, p) =>
      p >= columns.length
        ? `NULL AS k${p}`
        : cast[p]
          ? `CAST(${columns[p]} AS CHAR) AS k${p}`
          : `${columns[p]} AS k${p}`,
    );
    let where: string;
    const ids = integerKeys(request);
    const span = ids && denseSpan(ids);
    if (span) {
      where = `${columns[0]} BETWEEN ? AND ?`;
      parameters.push(span.min, span.max);
    } else if (columns.length === 1) {
      where = `${columns[0]} IN (${keys.map(() => '?').join(',')})`;
      for (const [v] of keys) parameters.push(caps.encodeValue(defs[i][0], v));
    } else {
      const tuple = `(${columns.map(() => '?').join(',')})`;
      where = `(${columns.join(',')}) IN (${keys.map(() => tuple).join(',')})`;
      for (const k of keys) k.forEach((v, p) => parameters.push(caps.encodeValue(defs[i][p], v)));
    }
    parts.push(`SELECT ${i} AS q, ${select.join(', ')} FROM ${quote(request.table.name)} WHERE ${where}`);
  });
  const found = requests.map(() => new Set<KeyValue>());
  if (parts.length > 0) {
    const query = CompiledQuery.raw(parts.join(' UNION ALL '), parameters);
    for (const row of (await trx.executeQuery<Record<string, unknown>>(query)).rows) {
      const q = Number(row.q);
      found[q].add(keyValue(defs[q].map((d, p) => caps.decodeValue(d, row[`k${p}`]))));
    }
  }
  // A range read meets keys not asked for.
  return requests.map((request, i) => {
    const asked = askedKeys(request.keys);
    return new Set([...found[i]].filter((k) => asked.has(k)));
  });
}

/**
 * Inserts rows in primary-key order, in statements of statementSize rows; answers the keys other writers
 * took meanwhile. At READ COMMITTED each read sees what other batches committed. Locking reads at the
 * default REPEATABLE READ would do too, but their gap locks made one batch in three deadlock when 20
 * overlapping batches ran at once, against one in fifty. Needs binlog_format ROW or MIXED (the
 * defaults), as InnoDB logs no READ COMMITTED write as a statement. A table without a primary key
 * takes every row.
 */
async function insertNew(
  conn: Connection,
  trx: Kysely<any>,
  caps: DialectCaps,
  table: TableDef,
  rows: Row[],
): Promise<KeyValue[]> {
  const pending = byKey(table, rows);
  const taken: KeyValue[] = [];
  const keyOfRow = primaryKeyOf(table);
  const key = table.primary_key;
  for (let i = 0; i < pending.length;) {
    const { sql, values, end } = insertSql(table, caps, pending, i);
    try {
      await query(conn, sql, values);
      i = end;
    } catch (e) {
      const chunk = pending.slice(i, end);
      // InnoDB rolls back the statement only. It waited for the writer that held the key, so that
      // row is committed now and, at READ COMMITTED, the next read sees it: each round takes out
      // at least one key, or the error is not ours to handle (another unique key, say).
      if (classifyMysql(e) !== 'unique_violation' || key.length === 0) throw e;
      const [gone] = await existingKeys(trx, caps, [
        { table, columns: key, keys: chunk.map((r) => key.map((c) => r[c])) },
      ]);
      if (gone.size === 0) throw e;
      taken.push(...gone);
      pending.splice(i, chunk.length, ...chunk.filter((r) => !gone.has(keyOfRow(r))));
    }
  }
  return taken;
}

/**
 * Rows per statement: at most 1000, and rows are added while the values hold under ~1M characters
 * (3 MB of UTF-8 at worst, twice that escaped, plus one row), below max_allowed_packet (16 MB by
 * default) whatever the rows hold.
 */
const ROWS_PER_STATEMENT = 1000;
const STATEMENT_CHARS = 1 << 20;

/** One multi-row INSERT of `rows` from `start`, and its values; `end` is the index after its last row. */
function insertSql(table: TableDef, caps: DialectCaps, rows: Row[], start: number) {
  const { names, encode } = codecsOf(caps.typeMap, table);
  const values: unknown[] = [];
  let chars = 0;
  let end = start;
  while (end < rows.length && end - start < ROWS_PER_STATEMENT && chars < STATEMENT_CHARS) {
    const row = rows[end++];
    for (let i = 0; i < names.length; i++) {
      const v = row[names[i]];
      if (typeof v === 'string') chars += v.length;
      values.push(encode[i](v));
    }
  }
  const tuple = `(${names.map(() => '?').join(',')})`;
  const sql = `INSERT INTO ${quote(table.name)} (${names.map(quote).join(',')}) VALUES ${new Array(end - start).fill(tuple).join(',')}`;
  return { sql, values, end };
}

function query(conn: Connection, sql: string, values: unknown[]): Promise<void> {
  // Validated, encoded values: strings (bigint and decimal text, dates, the datetime text), numbers and
  // NULL, which mysql2's escaper writes as given.
  return new Promise((resolve, reject) => conn.query(sql, values, (err) => (err ? reject(err) : resolve())));
}

const quote = (name: string) => `\`${name.replace(/`/g, '``')}\``;
