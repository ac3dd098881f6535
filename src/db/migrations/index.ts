import type { Migration } from 'kysely';
import type { Catalogue } from '../../tables/catalogue.js';
import type { DialectCaps, EngineKind } from '../engine.js';
import { tables } from './2026-11-29T00-00-00_tables.js';
import { serviceTables } from './2026-11-29T00-01-00_service_tables.js';
import { metricsIndexes } from './2026-11-29T00-02-00_metrics_indexes.js';

export interface MigrationContext {
  kind: EngineKind;
  caps: DialectCaps;
  catalogue: Catalogue;
}

/**
 * Every migration, by timestamped name. Listed here rather than found on disk, so that they work the
 * same from TypeScript sources and from the compiled build. A change to a table's columns comes as a
 * new migration here together with the change to the catalogue.
 */
export function migrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    '2026-11-29T00-00-00_tables': tables(ctx),
    '2026-11-29T00-01-00_service_tables': serviceTables(ctx),
    '2026-11-29T00-02-00_metrics_indexes': metricsIndexes(ctx),
  };
}
