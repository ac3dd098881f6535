/**
 * Run by migrations.test.ts as a separate process: opens DATABASE_URL (argv[2]), migrates to the
 * latest version and prints the migrations this process applied, as JSON. With argv[3], one more
 * migration comes last, PAUSE_MIGRATION: it creates a table, then takes that many milliseconds, so that
 * another process migrating meanwhile meets it half-way.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Migration } from 'kysely';
import { createEngine } from '../../src/db/index.js';
import { createMigrator, migrateToLatest } from '../../src/db/migrator.js';
import { defaultCatalogue } from '../../src/tables/catalogue.js';

const PAUSE_MIGRATION = '9999-12-31T00-00-00_test_pause';

function pause(ms: number): Record<string, Migration> {
  return {
    [PAUSE_MIGRATION]: {
      async up(db) {
        await db.schema.createTable('dataport_test_pause').addColumn('id', 'integer').execute();
        await sleep(ms);
      },
    },
  };
}

async function main() {
  const engine = await createEngine(process.argv[2]);
  try {
    const extra = process.argv[3] ? pause(Number(process.argv[3])) : {};
    const result = await migrateToLatest(createMigrator(engine, defaultCatalogue(), extra));
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await engine.close();
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
