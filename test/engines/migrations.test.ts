import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/db/index.js';
import { migrations } from '../../src/db/migrations/index.js';
import { defaultCatalogue } from '../../src/tables/catalogue.js';
import { sqliteCaps } from '../../src/db/sqlite.js';
import { testEngines } from '../helpers/engines.js';

const run = promisify(execFile);
// The catalogue's migrations and the children's last one, which pauses half-way (migrate-child.ts,
// which runs when imported, so its name is repeated here).
const PAUSE_MIGRATION = '9999-12-31T00-00-00_test_pause';
const all = [
  ...Object.keys(migrations({ kind: 'sqlite', caps: sqliteCaps, catalogue: defaultCatalogue() })),
  PAUSE_MIGRATION,
].sort();

// Kysely's Migrator takes a lock on the servers (GET_LOCK, pg_advisory_xact_lock); on SQLite the
// migrations run in one BEGIN IMMEDIATE transaction (sqlite.ts), so the second process waits for the
// first and then finds nothing to apply.
describe('migrations from several instances at once', () => {
  it.each(testEngines())(
    '$name: two instances starting at once apply each migration exactly once',
    { timeout: 60_000 },
    async (testEngine) => {
      const database = await testEngine.create();
      try {
        const child = () =>
          run('npx', ['tsx', 'test/engines/migrate-child.ts', database.url, '1500'], {
            cwd: process.cwd(),
            timeout: 50_000,
          });
        const results = await Promise.all([child(), child()]);
        const applied = results.map(
          (r) => JSON.parse(r.stdout.trim().split('\n').pop()!) as { applied: string[]; current: string },
        );
        expect([...applied[0].applied, ...applied[1].applied].sort()).toEqual(all);
        expect(applied.map((a) => a.current)).toEqual([all.at(-1), all.at(-1)]);
        const engine = await createEngine(database.url);
        try {
          const rows = await engine.db
            .selectFrom('dataport_migrations')
            .select('name')
            .orderBy('name')
            .execute();
          expect(rows.map((r) => r.name)).toEqual(all);
        } finally {
          await engine.close();
        }
      } finally {
        await database.drop();
      }
    },
  );
});
