import { sql, type CreateTableBuilder, type Kysely, type RawBuilder } from 'kysely';
import type { ColumnDef, TableDef } from '../tables/types.js';
import type { DialectCaps } from './engine.js';

/** Raw: Kysely's type parser knows no `mediumtext`. The text comes from the engine's caps, never from users. */
function columnType(caps: DialectCaps, c: ColumnDef): RawBuilder<unknown> {
  if (c.type === 'integer') return sql.raw(caps.types.integer);
  if (c.type === 'datetime') return sql.raw(caps.types.datetime);
  return sql.raw(caps.types.string(c.maxLength!));
}

/** CREATE TABLE for a catalogue table: every column NOT NULL, `id` the primary key, references as foreign keys. */
export function createTableFor(
  db: Kysely<any>,
  caps: DialectCaps,
  table: TableDef,
): CreateTableBuilder<string, string> {
  let builder = db.schema.createTable(table.name).ifNotExists();
  for (const c of table.columns) {
    builder = builder.addColumn(c.name, columnType(caps, c), (col) => {
      let b = col.notNull();
      if (c.name === 'id') b = b.primaryKey();
      if (c.default !== undefined) b = b.defaultTo(c.default);
      return b;
    });
  }
  for (const c of table.columns.filter((col) => col.references)) {
    builder = builder.addForeignKeyConstraint(
      `fk_${table.name}_${c.name}`,
      [c.name] as never[],
      c.references!,
      ['id'],
      (fk) =>
        // Deferrable so that a restore can replace a parent table inside one transaction.
        caps.deferrableForeignKeys ? fk.deferrable().initiallyImmediate() : fk,
    );
  }
  return builder;
}

/** Adds a column to an existing catalogue table (for migrations that evolve a table). */
export function addColumnFor(db: Kysely<any>, caps: DialectCaps, table: string, c: ColumnDef) {
  return db.schema.alterTable(table).addColumn(c.name, columnType(caps, c), (col) => {
    let b = col.notNull();
    if (c.default !== undefined) b = b.defaultTo(c.default);
    return b;
  });
}
