import type { Context } from '../../context.js';
import { typeOf } from '../../tables/column-types.js';
import type { TableDef } from '../../tables/types.js';
import { countRows } from '../backups/backups.repo.js';

export type TableInfo = TableDef & { row_count: number };

/** The catalogue as the service read it, parents first, with each table's row count. */
export async function listTables(ctx: Context): Promise<{ catalogue: string; tables: TableInfo[] }> {
  const tables: TableInfo[] = [];
  for (const table of ctx.catalogue.tables) tables.push(await withCount(ctx, table));
  return { catalogue: ctx.catalogue.file, tables };
}

/** @throws unknown_table */
export async function describeTable(ctx: Context, name: string): Promise<TableInfo> {
  return withCount(ctx, ctx.catalogue.get(name));
}

async function withCount(ctx: Context, table: TableDef): Promise<TableInfo> {
  return { ...table, row_count: await countRows(ctx.engine.db, table.name) };
}

/**
 * The JSON Schema of one JSON row of `table`, for OpenAPI: each column's type from the registry, NULL
 * where the column is nullable, required where it is neither nullable nor defaulted. Documentation
 * only: the rules themselves (and their reject reasons) are tables/validate.ts.
 */
export function rowSchema(table: TableDef): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const c of table.columns) {
    const schema: Record<string, unknown> = { ...typeOf(c).json(c) };
    if (c.nullable) schema.type = [...[schema.type].flat(), 'null'];
    if (c.enum) schema.enum = c.nullable ? [...c.enum, null] : c.enum;
    if (c.default !== undefined) schema.default = c.default;
    properties[c.name] = schema;
  }
  return {
    title: table.name,
    type: 'object',
    properties,
    required: table.columns.filter((c) => !c.nullable && c.default === undefined).map((c) => c.name),
    additionalProperties: false,
  };
}
