import { CompiledQuery, type Kysely } from 'kysely';
import type { Row, TableDef } from '../tables/types.js';
import type { Connection } from 'mysql2';
import type { BatchTransaction, DialectCaps, IdRequest } from './engine.js';
import { classifyMysql } from './mysql.js';
import { askedIds, byId, denseSpan } from './rows.js';

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
    existingIds: (requests) => existingIds(trx, requests),
    insert: (table, rows) => insertNew(conn, trx, caps, table, rows),
  };
}

/**
 * All of a batch's lookups (its references and its own ids) in one statement, a UNION ALL of one
 * SELECT per request tagged with the request's index: a round trip costs the server and Node more
 * than the reads. A dense request reads a range of the primary key (denseSpan), a sparse one its ids.
 * Also the second look after a duplicate key (insertNew).
 */
async function existingIds(trx: Kysely<any>, requests: IdRequest[]): Promise<Set<number>[]> {
  const parts: string[] = [];
  const parameters: number[] = [];
  requests.forEach(({ table, ids }, i) => {
    if (ids.length === 0) return;
    const span = denseSpan(ids);
    const where = span ? 'BETWEEN ? AND ?' : `IN (${ids.map(() => '?').join(',')})`;
    parts.push(`SELECT ${i} AS q, id FROM ${quote(table)} WHERE id ${where}`);
    parameters.push(...(span ? [span.min, span.max] : ids));
  });
  const found = requests.map(() => [] as unknown[]);
  if (parts.length > 0) {
    const query = CompiledQuery.raw(parts.join(' UNION ALL '), parameters);
    for (const row of (await trx.executeQuery<{ q: unknown; id: unknown }>(query)).rows)
      found[Number(row.q)].push(row.id);
  }
  return requests.map(({ ids }, i) => askedIds(found[i], ids));
}

/**
 * Inserts rows in id order, in statements of statementSize rows; answers the ids other writers took
 * meanwhile. At READ COMMITTED each read sees what other batches committed. Locking reads at the
 * default REPEATABLE READ would do too, but their gap locks made one batch in three deadlock when 20
 * overlapping batches ran at once, against one in fifty. Needs binlog_format ROW or MIXED (the
 * defaults), as InnoDB logs no READ COMMITTED write as a statement.
 */
async function insertNew(
  conn: Connection,
  trx: Kysely<any>,
  caps: DialectCaps,
  table: TableDef,
  rows: Row[],
): Promise<number[]> {
  const pending = byId(rows);
  const taken: number[] = [];
  for (let i = 0; i < pending.length;) {
    const { sql, values, end } = insertSql(table, caps, pending, i);
    try {
      await query(conn, sql, values);
      i = end;
    } catch (e) {
      const chunk = pending.slice(i, end);
      // InnoDB rolls back the statement only. It waited for the writer that held the id, so that
      // row is committed now and, at READ COMMITTED, the next read sees it: each round takes out
      // at least one id, or the error is not ours to handle.
      if (classifyMysql(e) !== 'unique_violation') throw e;
      const [gone] = await existingIds(trx, [{ table: table.name, ids: chunk.map((r) => r.id as number) }]);
      if (gone.size === 0) throw e;
      taken.push(...gone);
      pending.splice(i, chunk.length, ...chunk.filter((r) => !gone.has(r.id as number)));
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
  const columns = table.columns.map((c) => c.name);
  const datetimes = table.columns.map((c) => c.type === 'datetime');
  const values: unknown[] = [];
  let chars = 0;
  let end = start;
  while (end < rows.length && end - start < ROWS_PER_STATEMENT && chars < STATEMENT_CHARS) {
    const row = rows[end++];
    for (let i = 0; i < columns.length; i++) {
      const v = row[columns[i]];
      if (typeof v === 'string') chars += v.length;
      values.push(datetimes[i] ? caps.encodeDatetime(v as string) : v);
    }
  }
  const tuple = `(${columns.map(() => '?').join(',')})`;
  const sql = `INSERT INTO ${quote(table.name)} (${columns.map(quote).join(',')}) VALUES ${new Array(end - start).fill(tuple).join(',')}`;
  return { sql, values, end };
}

function query(conn: Connection, sql: string, values: unknown[]): Promise<void> {
  // Validated row values: strings, numbers and the datetime text, which mysql2's escaper writes as given.
  return new Promise((resolve, reject) => conn.query(sql, values, (err) => (err ? reject(err) : resolve())));
}

const quote = (name: string) => `\`${name.replace(/`/g, '``')}\``;
