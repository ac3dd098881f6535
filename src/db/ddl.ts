import { createHash } from 'node:crypto';
import { sql, type CreateTableBuilder, type Kysely } from 'kysely';
import type { ColumnDef, TableDef, Value } from '../tables/types.js';
import type { DialectCaps } from './engine.js';

/** The longest name PostgreSQL keeps (it cuts longer ones silently); MariaDB allows 64. */
const MAX_NAME = 63;

/**
 * A constraint or index name: `<prefix>_<table>_<columns>`, or `<prefix>_<table>_<n>` when that is too
 * long, or a shortened table name with a hash of it when even that is: never over 63 characters.
 */
export function constraintName(prefix: string, table: string, columns: readonly string[], n: number): string {
  const full = `${prefix}_${table}_${columns.join('_')}`;
  if (full.length <= MAX_NAME) return full;
  const numbered = `${prefix}_${table}_${n}`;
  if (numbered.length <= MAX_NAME) return numbered;
  const hash = createHash('sha256').update(table).digest('hex').slice(0, 8);
  const room = MAX_NAME - prefix.length - hash.length - String(n).length - 3;
  return `${prefix}_${table.slice(0, room)}_${hash}_${n}`;
}

/** The names of a table's foreign keys, in the catalogue's order (`fk_hired_employees_department_id`). */
export function foreignKeyNames(table: TableDef): string[] {
  return table.foreign_keys.map((fk, i) => constraintName('fk', table.name, fk.columns, i + 1));
}

/** A column default as an SQL literal (DDL takes no parameters); the value is canonical and validated. */
function literal(caps: DialectCaps, column: ColumnDef, value: Value): string {
  const v = caps.encodeValue(column, value);
  if (v === null) return 'NULL';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  const text = String(v).replace(/'/g, "''");
  return `'${caps.backslashEscapes ? text.replace(/\\/g, '\\\\') : text}'`;
}

/**
 * CREATE TABLE for a catalogue table: NOT NULL unless nullable, defaults, the primary key (any columns,
 * or none), unique keys and foreign keys (DEFERRABLE where the engine allows, so that a restore can
 * replace a parent table inside one transaction). The indexes on foreign keys come after, from
 * foreignKeyIndexes (migrator.ts ensureCatalogueTables), once every migration's own indexes exist.
 */
export function createTableFor(
  db: Kysely<any>,
  caps: DialectCaps,
  table: TableDef,
): CreateTableBuilder<string, string> {
  let builder = db.schema.createTable(table.name).ifNotExists();
  for (const c of table.columns) {
    // Raw: Kysely's type parser knows no `mediumtext`. The text comes from the engine's mapping.
    builder = builder.addColumn(c.name, sql.raw(caps.columnType(c)), (col) => {
      let b = c.nullable ? col : col.notNull();
      if (c.default !== undefined) b = b.defaultTo(sql.raw(literal(caps, c, c.default)));
      return b;
    });
  }
  if (table.primary_key.length > 0)
    builder = builder.addPrimaryKeyConstraint(`${table.name}_pkey`, table.primary_key as never[]);
  table.unique.forEach((columns, i) => {
    builder = builder.addUniqueConstraint(
      constraintName('uq', table.name, columns, i + 1),
      columns as never[],
    );
  });
  const names = foreignKeyNames(table);
  table.foreign_keys.forEach((fk, i) => {
    builder = builder.addForeignKeyConstraint(
      names[i],
      fk.columns as never[],
      fk.references.table,
      fk.references.columns,
      (b) => (caps.deferrableForeignKeys ? b.deferrable().initiallyImmediate() : b),
    );
  });
  return builder;
}

/**
 * The index every foreign key needs for the checks of its parent's deletes and for joins, unless an
 * existing index (the primary key, a unique key, or one a migration made) starts with its columns.
 */
export function missingForeignKeyIndexes(
  table: TableDef,
  existing: readonly (readonly string[])[],
): { name: string; columns: string[] }[] {
  const indexes = [...existing];
  const missing: { name: string; columns: string[] }[] = [];
  table.foreign_keys.forEach((fk, i) => {
    const covered = indexes.some(
      (index) => index.length >= fk.columns.length && fk.columns.every((c, j) => index[j] === c),
    );
    if (covered) return;
    missing.push({ name: constraintName('ix', table.name, fk.columns, i + 1), columns: fk.columns });
    indexes.push(fk.columns);
  });
  return missing;
}

/** Adds a column to an existing catalogue table (for migrations that evolve a table). */
export function addColumnFor(db: Kysely<any>, caps: DialectCaps, table: string, c: ColumnDef) {
  return db.schema.alterTable(table).addColumn(c.name, sql.raw(caps.columnType(c)), (col) => {
    let b = c.nullable ? col : col.notNull();
    if (c.default !== undefined) b = b.defaultTo(sql.raw(literal(caps, c, c.default)));
    return b;
  });
}
