import { Migrator, type Kysely, type Migration, type MigrationInfo } from 'kysely';
import { AppError } from '../errors.js';
import type { Catalogue } from '../tables/catalogue.js';
import type { TableDef } from '../tables/types.js';
import { createTableFor, missingForeignKeyIndexes } from './ddl.js';
import type { Engine } from './engine.js';
import { migrations } from './migrations/index.js';
import { describeType, type TableShape } from './types.js';

export interface MigrationResult {
  applied: string[];
  current: string | null;
  /** Catalogue tables that ensureCatalogueTables created after the migrations. */
  created: string[];
}

/** What each migrator migrates, for migrateToLatest's catalogue step. */
const targets = new WeakMap<Migrator, { engine: Engine; catalogue: Catalogue }>();

export function createMigrator(
  engine: Engine,
  catalogue: Catalogue,
  extra: Record<string, Migration> = {},
): Migrator {
  const all = { ...migrations({ kind: engine.kind, caps: engine.caps, catalogue }), ...extra };
  const migrator = new Migrator({
    db: engine.db,
    provider: { getMigrations: async () => all },
    migrationTableName: 'dataport_migrations',
    migrationLockTableName: 'dataport_migrations_lock',
  });
  targets.set(migrator, { engine, catalogue });
  return migrator;
}

/**
 * Applies every pending migration, then makes the catalogue's tables exist and match
 * (ensureCatalogueTables). Kysely's lock makes concurrent callers wait for each other.
 * @throws AppError migration_failed
 */
export async function migrateToLatest(migrator: Migrator): Promise<MigrationResult> {
  // Nothing pending (every start but the first after an upgrade): answer without taking the lock. On
  // SQLite the lock is the file's write lock (the migrations run in one BEGIN IMMEDIATE transaction, see
  // sqlite.ts), which would make a start wait for, and fail behind, a long load in another process.
  const before = await migrator.getMigrations();
  let applied: string[] = [];
  if (!before.every((m) => m.executedAt)) {
    const { error, results = [] } = await migrator.migrateToLatest();
    applied = results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
    if (error) {
      const failed = results.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new AppError('migration_failed', `migration ${failed} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  const target = targets.get(migrator);
  const created = target ? await ensureCatalogueTables(target.engine, target.catalogue) : [];
  return { applied, current: await currentVersion(migrator), created };
}

/** The last applied migration's name: the schema version written into backups. */
export async function currentVersion(migrator: Migrator): Promise<string | null> {
  return lastApplied(await migrator.getMigrations());
}

function lastApplied(list: readonly MigrationInfo[]): string | null {
  const done = list.filter((m) => m.executedAt);
  return done.length ? done[done.length - 1].name : null;
}

/**
 * Makes the database hold the catalogue's tables, after the migrations (so it runs wherever
 * migrateToLatest does: at start with MIGRATE_ON_START, and on `migrate`). A table that is missing is
 * created, parents first (catalogue.tables is in that order), with an index on each foreign key that no
 * index covers yet. A table that exists is compared with the catalogue (columns, their types and
 * NULLs, the primary key): a difference is an error naming the table and the column, never ignored and
 * never left for the first load to meet. Answers the tables it created. Other instances doing the same
 * wait for each other (SchemaReader.exclusive).
 * @throws AppError migration_failed
 */
export async function ensureCatalogueTables(
  engine: Engine,
  catalogue: Pick<Catalogue, 'tables'>,
): Promise<string[]> {
  // Read first without the lock: when every table is there and matches (every start but the first
  // after a catalogue change) no lock is taken, which on SQLite is the file's write lock.
  if (await inPlace(engine, catalogue)) return [];
  return engine.schema.exclusive(async (db) => {
    const created: string[] = [];
    const problems: string[] = [];
    for (const table of catalogue.tables) {
      const shape = await engine.schema.describe(db, table.name);
      if (shape) {
        const differences = compareTable(engine, table, shape);
        if (differences.length > 0)
          problems.push(
            `table ${table.name} exists but differs from the catalogue: ${differences.join('; ')}`,
          );
        continue;
      }
      try {
        await createTableFor(db, engine.caps, table).execute();
      } catch (e) {
        throw new AppError(
          'migration_failed',
          `creating table ${table.name} failed: ${(e as Error).message}`,
          { cause: e },
        );
      }
      created.push(table.name);
    }
    if (problems.length > 0) throw new AppError('migration_failed', problems.join('. '));
    for (const table of catalogue.tables) await addForeignKeyIndexes(engine, db, table);
    return created;
  });
}

/** Every catalogue table exists, matches, and has its foreign-key indexes. */
async function inPlace(engine: Engine, catalogue: Pick<Catalogue, 'tables'>): Promise<boolean> {
  for (const table of catalogue.tables) {
    const shape = await engine.schema.describe(engine.db, table.name);
    if (!shape || compareTable(engine, table, shape).length > 0) return false;
    if (missingForeignKeyIndexes(table, shape.indexes).length > 0) return false;
  }
  return true;
}

/** The indexes a table's foreign keys lack (missingForeignKeyIndexes), created. */
async function addForeignKeyIndexes(engine: Engine, db: Kysely<any>, table: TableDef): Promise<void> {
  if (table.foreign_keys.length === 0) return;
  const shape = await engine.schema.describe(db, table.name);
  for (const index of missingForeignKeyIndexes(table, shape?.indexes ?? [])) {
    try {
      await db.schema.createIndex(index.name).on(table.name).columns(index.columns).execute();
    } catch (e) {
      throw new AppError(
        'migration_failed',
        `creating index ${index.name} on ${table.name} failed: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }
}

/** How a table in the database differs from its catalogue definition, one phrase per difference. */
export function compareTable(engine: Engine, table: TableDef, shape: TableShape): string[] {
  const out: string[] = [];
  for (const column of table.columns) {
    const found = shape.columns.get(column.name);
    const wanted = `${describeType(column)} (${engine.caps.columnType(column)})`;
    if (!found) {
      out.push(`column ${column.name} is missing from the database, ${wanted} in the catalogue`);
      continue;
    }
    if (!engine.caps.typeMap[column.type].stores(column, found.type))
      out.push(`column ${column.name} is ${found.type} in the database, ${wanted} in the catalogue`);
    if (found.nullable !== column.nullable)
      out.push(
        `column ${column.name} is ${found.nullable ? 'nullable' : 'NOT NULL'} in the database, ${column.nullable ? 'nullable' : 'NOT NULL'} in the catalogue`,
      );
  }
  const known = new Set(table.columns.map((c) => c.name));
  for (const name of shape.columns.keys())
    if (!known.has(name)) out.push(`column ${name} is in the database, not in the catalogue`);
  const key = (columns: readonly string[]) => (columns.length ? `(${columns.join(', ')})` : 'none');
  if (key(shape.primaryKey) !== key(table.primary_key))
    out.push(
      `primary key is ${key(shape.primaryKey)} in the database, ${key(table.primary_key)} in the catalogue`,
    );
  return out;
}
