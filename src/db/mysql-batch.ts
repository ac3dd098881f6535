import { CompiledQuery, type Kysely } from 'kysely';
import type { Row, TableDef } from '../tables/types.js';
import type { Connection, ExecuteValues } from 'mysql2';
import type { BatchTransaction, DialectCaps, IdRequest } from './engine.js';
import { classifyMysql } from './mysql.js';
import { askedIds, byId, denseSpan } from './rows.js';

/**
 * Engine.batchTransaction's statements on MariaDB/MySQL, on the transaction's own pool connection
 * `conn` (Kysely `trx` runs on it too). Lookups are parameterised SQL rather than Kysely's builder, which
 * for 1000 ids builds a node per value and compiles them anew for every batch. Rows go in as prepared
 * statements (mysql2 `execute`, cached per connection and statement text): the server then parses no
 * SQL, where a 1000-row INSERT as text is ~100 KB for the client to escape and the server to parse.
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
    const chunk = pending.slice(i, i + statementSize(pending.length - i));
    try {
      await execute(conn, insertSql(table, chunk.length), parameters(table, caps, chunk));
      i += chunk.length;
    } catch (e) {
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

/** Keeps a statement far below max_allowed_packet, even with long text columns. */
const ROWS_PER_STATEMENT = 1000;

/**
 * Rows in the next statement when `left` remain: ROWS_PER_STATEMENT, else the largest power of two,
 * so that a connection prepares at most 11 statement texts per table (the server caps prepared
 * statements at max_prepared_stmt_count, 16382 by default, over all connections), and a batch of
 * n rows takes at most 10 statements more than n / 1000.
 */
export function statementSize(left: number): number {
  if (left >= ROWS_PER_STATEMENT) return ROWS_PER_STATEMENT;
  return 2 ** Math.floor(Math.log2(left));
}

function insertSql(table: TableDef, rows: number): string {
  const columns = table.columns.map((c) => quote(c.name));
  const tuple = `(${columns.map(() => '?').join(',')})`;
  return `INSERT INTO ${quote(table.name)} (${columns.join(',')}) VALUES ${new Array(rows).fill(tuple).join(',')}`;
}

function parameters(table: TableDef, caps: DialectCaps, rows: Row[]): unknown[] {
  const columns = table.columns.map((c) => c.name);
  const datetimes = table.columns.map((c) => c.type === 'datetime');
  const values: unknown[] = [];
  for (const row of rows) {
    for (let i = 0; i < columns.length; i++) {
      const v = row[columns[i]];
      values.push(datetimes[i] ? caps.encodeDatetime(v as string) : v);
    }
  }
  return values;
}

function execute(conn: Connection, sql: string, values: unknown[]): Promise<void> {
  // Validated row values: strings, numbers and the datetime text, which mysql2 binds as given.
  return new Promise((resolve, reject) =>
    conn.execute(sql, values as ExecuteValues, (err) => (err ? reject(err) : resolve())),
  );
}

const quote = (name: string) => `\`${name.replace(/`/g, '``')}\``;
