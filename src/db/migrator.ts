import { Migrator, type Migration, type MigrationInfo } from 'kysely';
import { AppError } from '../errors.js';
import type { Catalogue } from '../tables/catalogue.js';
import type { Engine } from './engine.js';
import { migrations } from './migrations/index.js';

export interface MigrationResult {
  applied: string[];
  current: string | null;
}

export function createMigrator(
  engine: Engine,
  catalogue: Catalogue,
  extra: Record<string, Migration> = {},
): Migrator {
  const all = { ...migrations({ kind: engine.kind, caps: engine.caps, catalogue }), ...extra };
  return new Migrator({
    db: engine.db,
    provider: { getMigrations: async () => all },
    migrationTableName: 'dataport_migrations',
    migrationLockTableName: 'dataport_migrations_lock',
  });
}

/** Applies every pending migration. Kysely's lock makes concurrent callers wait for each other. */
export async function migrateToLatest(migrator: Migrator): Promise<MigrationResult> {
  // Nothing pending (every start but the first after an upgrade): answer without taking the lock. On
  // SQLite the lock is the file's write lock (the migrations run in one BEGIN IMMEDIATE transaction, see
  // sqlite.ts), which would make a start wait for, and fail behind, a long load in another process.
  const before = await migrator.getMigrations();
  if (before.every((m) => m.executedAt)) return { applied: [], current: lastApplied(before) };
  const { error, results = [] } = await migrator.migrateToLatest();
  const applied = results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
  if (error) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new AppError('migration_failed', `migration ${failed} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return { applied, current: await currentVersion(migrator) };
}

/** The last applied migration's name: the schema version written into backups. */
export async function currentVersion(migrator: Migrator): Promise<string | null> {
  return lastApplied(await migrator.getMigrations());
}

function lastApplied(list: readonly MigrationInfo[]): string | null {
  const done = list.filter((m) => m.executedAt);
  return done.length ? done[done.length - 1].name : null;
}
