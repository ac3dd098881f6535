import type { Context } from '../../context.js';
import { listRejects } from './rejects.repo.js';

/** @throws unknown_table */
export async function listTableRejects(
  ctx: Context,
  tableName: string,
  q: { loadId?: string; limit: number; offset: number },
) {
  const table = ctx.catalogue.get(tableName);
  const { total, rows } = await listRejects(ctx.engine.db, { table: table.name, ...q });
  return {
    table: table.name,
    total,
    rejects: rows.map((r) => ({
      load_id: r.load_id,
      source: r.source,
      ...(r.line !== null ? { line: Number(r.line) } : {}),
      ...(r.row_index !== null ? { index: Number(r.row_index) } : {}),
      column: r.column_name,
      reason: r.reason,
      message: r.message,
      raw: r.raw,
      created_at: r.created_at,
    })),
  };
}
