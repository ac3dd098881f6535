import { CompiledQuery, type Kysely } from 'kysely';
import type { Row, TableDef } from '../tables/types.js';
import type { BatchTransaction, DialectCaps } from './engine.js';
import { classifyMysql } from './mysql.js';
import { byId, lookUpIds } from './rows.js';

/**
 * Engine.batchTransaction on MariaDB/MySQL: a Kysely transaction on the pool, with the batch's lookups
 * and insert written here as parameterised SQL rather than through Kysely's builder, which for a
 * 1000-row insert builds a node per value and compiles them anew for every batch.
 */
export function mysqlBatch<T>(
  db: Kysely<any>,
  caps: DialectCaps,
  fn: (tx: BatchTransaction) => Promise<T>,
): Promise<T> {
  // READ COMMITTED: each read sees what other batches committed (see insert). Locking reads at the
  // default REPEATABLE READ would do too, but their gap locks made one batch in three deadlock when
  // 20 overlapping batches ran at once, against one in fifty. Needs binlog_format ROW or MIXED (the
  // defaults), as InnoDB logs no READ COMMITTED write as a statement.
  return db
    .transaction()
    .setIsolationLevel('read committed')
    .execute((trx) =>
      fn({
        db: trx,
        existingIds: (table, ids) =>
          lookUpIds(
            trx,
            ids,
            (min, max) =>
              CompiledQuery.raw(`SELECT id FROM ${quote(table)} WHERE id BETWEEN ? AND ?`, [min, max]),
            (list) =>
              CompiledQuery.raw(
                `SELECT id FROM ${quote(table)} WHERE id IN (${list.map(() => '?').join(',')})`,
                list,
              ),
          ),
        insert: (table, rows) => insertNew(trx, caps, table, rows),
      }),
    );
}

/** Inserts rows in statements of ROWS_PER_STATEMENT; answers the ids other writers took meanwhile. */
async function insertNew(
  trx: Kysely<any>,
  caps: DialectCaps,
  table: TableDef,
  rows: Row[],
): Promise<number[]> {
  const pending = byId(rows);
  const taken: number[] = [];
  for (let i = 0; i < pending.length;) {
    const chunk = pending.slice(i, i + ROWS_PER_STATEMENT);
    try {
      await trx.executeQuery(insertQuery(table, caps, chunk));
      i += chunk.length;
    } catch (e) {
      // InnoDB rolls back the statement only. It waited for the writer that held the id, so that
      // row is committed now and, at READ COMMITTED, the next read sees it: each round takes out
      // at least one id, or the error is not ours to handle.
      if (classifyMysql(e) !== 'unique_violation') throw e;
      const ids = chunk.map((r) => r.id as number);
      const { rows: found } = await trx.executeQuery<{ id: number }>(
        CompiledQuery.raw(
          `SELECT id FROM ${quote(table.name)} WHERE id IN (${ids.map(() => '?').join(',')})`,
          ids,
        ),
      );
      if (found.length === 0) throw e;
      const gone = new Set(found.map((r) => Number(r.id)));
      taken.push(...gone);
      pending.splice(i, chunk.length, ...chunk.filter((r) => !gone.has(r.id as number)));
    }
  }
  return taken;
}

/** Keeps a statement far below max_allowed_packet, even with long text columns. */
const ROWS_PER_STATEMENT = 1000;

function insertQuery(table: TableDef, caps: DialectCaps, rows: Row[]): CompiledQuery {
  const columns = table.columns.map((c) => c.name);
  const datetimes = table.columns.map((c) => c.type === 'datetime');
  const tuple = `(${columns.map(() => '?').join(',')})`;
  const parameters: unknown[] = [];
  for (const row of rows) {
    for (let i = 0; i < columns.length; i++) {
      const v = row[columns[i]];
      parameters.push(datetimes[i] ? caps.encodeDatetime(v as string) : v);
    }
  }
  const sql = `INSERT INTO ${quote(table.name)} (${columns.map(quote).join(',')}) VALUES ${new Array(rows.length).fill(tuple).join(',')}`;
  return CompiledQuery.raw(sql, parameters);
}

const quote = (name: string) => `\`${name.replace(/`/g, '``')}\``;
