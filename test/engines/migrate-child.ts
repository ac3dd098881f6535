/**
 * Run by migrations.test.ts as a separate process: opens DATABASE_URL (argv[2]), migrates to the
 * latest version and prints the migrations this process applied, as JSON.
 */
import { createEngine } from '../../src/db/index.js';
import { createMigrator, migrateToLatest } from '../../src/db/migrator.js';
import { defaultCatalogue } from '../../src/tables/catalogue.js';

async function main() {
  const engine = await createEngine(process.argv[2]);
  try {
    const result = await migrateToLatest(createMigrator(engine, defaultCatalogue()));
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await engine.close();
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
