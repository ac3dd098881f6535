import type { Logger } from 'pino';
import type { Migrator } from 'kysely';
import type { Engine } from './db/engine.js';
import type { ObjectStore } from './storage/types.js';
import type { Catalogue } from './tables/catalogue.js';
import type { TableLocks } from './modules/locks.js';
import type { Metrics } from './observability/metrics.js';

/** What every service works with; built once by `openContext` and shared by the HTTP app and the CLI. */
export interface Context {
  engine: Engine;
  store: ObjectStore;
  catalogue: Catalogue;
  migrator: Migrator;
  locks: TableLocks;
  log: Logger;
  /** Counters and histograms the services report to; served at GET /metrics. */
  metrics: Metrics;
}

/** Reports rows done so far, for progress bars. */
export type Progress = (rows: number) => void;
