import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Context } from './context.js';
import { createEngine } from './db/index.js';
import { createMigrator, migrateToLatest } from './db/migrator.js';
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
    createStore(config.storageUrl, { endpoint: config.storageEndpoint, region: config.storageRegion });
  const ctx: Context = {
    engine,
    store,
    catalogue,
    migrator: createMigrator(engine, catalogue),
    locks: new TableLocks(),
    log,
    metrics: new Metrics(),
  };
  try {
    if (config.migrateOnStart) {
      const { applied, current } = await migrateToLatest(ctx.migrator);
      if (applied.length) log.info({ applied, current }, 'migrations applied');
    }
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
