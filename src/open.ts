import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Context } from './context.js';
import { createEngine } from './db/index.js';
import { createMigrator, migrateToLatest } from './db/migrator.js';
import { markInterrupted } from './modules/loads/runs.repo.js';
import { TableLocks } from './modules/locks.js';
import { Metrics } from './observability/metrics.js';
import { createLogger as createJsonLogger } from './logging.js';
import { createStore } from './storage/from-url.js';
import type { ObjectStore } from './storage/types.js';
import { Catalogue, defaultCatalogue } from './tables/catalogue.js';

export interface OpenOptions {
  log?: Logger;
  catalogue?: Catalogue;
  /** A ready store (tests hand in one bound to a local server). */
  store?: ObjectStore;
  /**
   * Clean up after a process that was killed: runs left 'running', staging tables, the folder store's
   * temporary files (see sweepLeftovers). The server does it at start; the CLI does not.
   */
  sweep?: boolean;
}

/** The service's JSON-lines logger (Cloud Logging fields; see src/logging.ts). */
export function createLogger(level: string): Logger {
  return createJsonLogger(level);
}

/** Opens the database and the bucket, and migrates when configured to; shared by the server and the CLI. */
export async function openContext(config: Config, options: OpenOptions = {}): Promise<Context> {
  const log = options.log ?? createLogger(config.logLevel);
  const catalogue = options.catalogue ?? defaultCatalogue();
  const engine = await createEngine(config.databaseUrl);
  const store =
    options.store ??
    (await createStore(config.storageUrl, {
      endpoint: config.storageEndpoint,
      region: config.storageRegion,
    }));
  const ctx: Context = {
    engine,
    store,
    catalogue,
    migrator: createMigrator(engine, catalogue),
    locks: new TableLocks(config.maxHeavyOperations),
    log,
    metrics: new Metrics(),
  };
  try {
    // Asked first, on the pool's first connection, so that none of our own connections count.
    const alone = options.sweep ? await aloneOnDatabase(ctx).catch(() => false) : false;
    if (config.migrateOnStart) {
      const { applied, current } = await migrateToLatest(ctx.migrator);
      if (applied.length) log.info({ applied, current }, 'migrations applied');
    }
    if (options.sweep) await sweepLeftovers(ctx, alone);
  } catch (e) {
    await engine.close();
    throw e;
  }
  // A missing bucket or bad credentials should show at start, not as a failure of the first request.
  await store.check().then(
    () => log.info({ storage: store.url, database: engine.description }, 'storage and database ready'),
    (e) =>
      log.error(
        { storage: store.url, err: e },
        'storage is not reachable: loads and backups will fail until it is',
      ),
  );
  return ctx;
}

export async function closeContext(ctx: Context): Promise<void> {
  await ctx.engine.close();
}

/** Temporary objects of FsStore (src/storage/fs-store.ts): written next to the key, renamed at the end. */
const FS_TEMP_MARK = '.dataport-tmp-';
/** A temporary file untouched this long belongs to no live writer, whoever else is running. */
const STALE_TEMP_MS = 60 * 60 * 1000;
const STAGE = /^dataport_stage_[0-9a-f]+$/;

/**
 * Per engine, the catalogue queries the start-up sweep needs: other dataport sessions on this database
 * (PostgreSQL: by application_name; MariaDB: same user and database), and leftover staging tables
 * (SQLite stages nothing, and a SQLite file serves one process).
 */
const SWEEP_SQL = {
  sqlite: { others: null, stages: null },
  mysql: {
    others: sql<{ n: number }>`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
      WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND USER = SUBSTRING_INDEX(USER(), '@', 1)`,
    stages: sql<{ name: string }>`SELECT TABLE_NAME AS name FROM information_schema.TABLES
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'dataport\\_stage\\_%'`,
  },
  postgres: {
    others: sql<{ n: number }>`SELECT COUNT(*) AS n FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = 'dataport' AND pid <> pg_backend_pid()`,
    stages: sql<{ name: string }>`SELECT tablename AS name FROM pg_tables
      WHERE schemaname = current_schema() AND tablename LIKE 'dataport\\_stage\\_%'`,
  },
} as const;

/** True when no other dataport process holds a connection to this database. */
async function aloneOnDatabase(ctx: Context): Promise<boolean> {
  const query = SWEEP_SQL[ctx.engine.kind].others;
  if (!query) return true;
  return ctx.engine.db.connection().execute(async (conn) => {
    const { rows } = await query.execute(conn);
    return Number(rows[0]?.n ?? 0) === 0;
  });
}

/**
 * After a crash or SIGKILL the database has rolled the dead process's jobs back, but it leaves: its runs
 * marked 'running' in dataport_loads, its staging tables (dataport_stage_*, MariaDB and PostgreSQL), and
 * the folder store's half-written temporary files. Multi-instance safety: a run or a staging table
 * carries no owner, so the two are only swept when this process is alone on the database (no other
 * dataport session); otherwise they wait for the next lone start. A temporary file is removed when alone,
 * or when nobody has written to it for an hour. A failure here is logged, never fatal.
 */
async function sweepLeftovers(ctx: Context, alone: boolean): Promise<void> {
  const done = { interrupted_runs: 0, staging_tables: 0, temp_files: 0, alone };
  try {
    if (alone) {
      done.interrupted_runs = await markInterrupted(ctx.engine.db);
      const stages = SWEEP_SQL[ctx.engine.kind].stages;
      const { rows } = stages ? await stages.execute(ctx.engine.db) : { rows: [] };
      for (const { name } of rows) {
        if (!STAGE.test(name)) continue;
        await sql`DROP TABLE IF EXISTS ${sql.table(name)}`.execute(ctx.engine.db);
        done.staging_tables++;
      }
    }
    if (ctx.store.url.startsWith('file:')) {
      done.temp_files = await sweepTempFiles(path.resolve(ctx.store.url.slice('file:'.length)), alone);
    }
  } catch (err) {
    ctx.log.warn({ err, ...done }, 'start-up clean-up failed part-way; the service starts anyway');
    return;
  }
  ctx.log.info(done, 'start-up clean-up');
}

async function sweepTempFiles(dir: string, alone: boolean): Promise<number> {
  let removed = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) removed += await sweepTempFiles(file, alone);
    else if (entry.isFile() && entry.name.startsWith(FS_TEMP_MARK)) {
      const info = await stat(file).catch(() => null);
      if (info && (alone || Date.now() - info.mtimeMs > STALE_TEMP_MS)) {
        await rm(file, { force: true });
        removed++;
      }
    }
  }
  return removed;
}
