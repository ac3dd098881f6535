import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Context } from './context.js';
import { createEngine } from './db/index.js';
import { createMigrator, migrateToLatest } from './db/migrator.js';
import { markInterrupted } from './modules/runs/runs.repo.js';
import { TableLocks } from './modules/locks.js';
import { Metrics } from './observability/metrics.js';
import { createLogger as createJsonLogger } from './logging.js';
import { FsStore } from './storage/fs-store.js';
import { createStore } from './storage/from-url.js';
import type { ObjectStore } from './storage/types.js';
import { loadCatalogue, type Catalogue } from './tables/catalogue.js';

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
  // Read and checked before anything opens: a bad file stops the process with every problem listed.
  const catalogue = options.catalogue ?? loadCatalogue(config.catalogue);
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
    const alone = options.sweep ? (await engine.otherSessions().catch(() => 1)) === 0 : false;
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

/** A temporary file untouched this long belongs to no live writer, whoever else is running. */
const STALE_TEMP_MS = 60 * 60 * 1000;

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
      done.staging_tables = await ctx.engine.dropStagingTables();
    }
    if (ctx.store instanceof FsStore) done.temp_files = await ctx.store.sweepTemp(alone ? 0 : STALE_TEMP_MS);
  } catch (err) {
    ctx.log.warn({ err, ...done }, 'start-up clean-up failed part-way; the service starts anyway');
    return;
  }
  ctx.log.info(done, 'start-up clean-up');
}
