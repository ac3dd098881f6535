import { CompiledQuery, type Kysely } from 'kysely';
import type { Row, TableDef } from '../tables/types.js';
import type { BatchTransaction, DialectCaps } from './engine.js';
import { lookUpIds } from './rows.js';

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
  return db.transaction().execute((trx) =>
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
      async insert(table, rows) {
        for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
          await trx.executeQuery(insertQuery(table, caps, rows.slice(i, i + ROWS_PER_STATEMENT)));
        }
      },
    }),
  );
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
