import { existsSync, mkdtempSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TOKEN } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';
import {
  freePort,
  startServerProcess,
  stopServerProcess,
  type ServerProcess,
} from '../production/server-process.js';
import { decodeBackup, fingerprint, jobsCsv, jobsRows, random, tableRows, withEngine } from './helpers.js';

/**
 * The real server process (src/server.ts through tsx) is SIGKILLed at a seeded random moment during a
 * historic load, a payload insert, a backup and a restore of `jobs`. Afterwards the table holds exactly
 * the old rows or exactly the new ones, the backup key decodes fully to the old or the new backup, and
 * a restarted server cleans up: no run left 'running', no staging table, no temporary file.
 */
const auth = { authorization: `Bearer ${TOKEN}` };
const SMALL = 500; // the "old" rows: ids 1..500
const BIG = 100_000; // the "new" rows: ids 1..150,000, every value different
const SEEDS: Record<string, number[]> = { sqlite: [11, 22, 33], mariadb: [44, 55], postgres: [66, 77] };
/** The window a kill is drawn from, per operation: about its duration, so kills land before, during and after. */
const WINDOW_MS = { load: 2000, insert: 80, backup: 800, restore: 1200 } as const;
type Operation = keyof typeof WINDOW_MS;

const root = mkdtempSync(path.join(tmpdir(), 'dataport-kill-'));
afterAll(() => rm(root, { recursive: true, force: true }));

const OLD = fingerprint(jobsRows(1, SMALL, 'old'));
const NEW = fingerprint(jobsRows(1, BIG, 'new'));
const BATCH = jobsRows(SMALL + 1, SMALL + 1000, 'batch');
const WITH_BATCH = fingerprint([...jobsRows(1, SMALL, 'old'), ...BATCH]);
const NEW_PLUS_ONE = fingerprint([...jobsRows(1, BIG, 'new'), { id: BIG + 1, job: 'extra' }]);

for (const engine of testEngines()) {
  describe(`SIGKILL mid-operation on ${engine.name}`, { timeout: 180_000 }, () => {
    let server: ServerProcess | undefined;
    const drops: (() => Promise<void>)[] = [];
    afterEach(async () => {
      stopServerProcess(server);
      await server?.exited;
    });
    afterAll(async () => {
      for (const drop of drops) await drop().catch(() => undefined);
    });

    const cases = (SEEDS[engine.name] ?? [1]).flatMap((seed) =>
      (Object.keys(WINDOW_MS) as Operation[]).map((op) => ({ op, seed })),
    );

    it.each(cases)('$op, seed $seed', async ({ op, seed }) => {
      const database = await engine.create();
      drops.push(database.drop);
      const bucket = mkdtempSync(path.join(root, `${engine.name}-${op}-`));
      const historic = path.join(bucket, 'database/jobs/historic/jobs.csv');
      const backupFile = path.join(bucket, 'database/jobs/backup/jobs.avro');
      await mkdir(path.dirname(historic), { recursive: true });
      const env = {
        DATABASE_URL: database.url,
        STORAGE_URL: `file:${bucket}`,
        API_TOKEN: TOKEN,
        LOG_LEVEL: 'info',
        MAX_HEAVY_OPERATIONS: '4',
      };
      const start = async () =>
        (server = await startServerProcess(['--import', 'tsx', 'src/server.ts'], {
          cwd: process.cwd(),
          port: await freePort(),
          env,
        }));
      const post = async (url: string, body?: unknown) => {
        const res = await fetch(`${server!.base}${url}`, {
          method: 'POST',
          headers: body ? { ...auth, 'content-type': 'application/json' } : auth,
          body: body ? JSON.stringify(body) : undefined,
        });
        expect(res.status, await res.clone().text()).toBe(200);
        return res.json();
      };
      const loadFile = async (text: string) => {
        await writeFile(historic, text);
        await post('/load_historic_data/jobs');
      };

      // The state before the operation, built through the service itself.
      let s = await start();
      await loadFile(jobsCsv(1, SMALL, 'old'));
      let url = '';
      let before = OLD;
      let after = OLD;
      let backupBefore: typeof OLD | null = null;
      let backupAfter: typeof OLD | null = null;
      if (op === 'load') {
        await writeFile(historic, jobsCsv(1, BIG, 'new'));
        url = '/load_historic_data/jobs';
        after = NEW;
      } else if (op === 'insert') {
        url = '/load_data_from_payload/jobs';
        after = WITH_BATCH;
      } else if (op === 'backup') {
        await post('/backup_table/jobs');
        await loadFile(jobsCsv(1, BIG, 'new'));
        url = '/backup_table/jobs';
        before = after = NEW;
        backupBefore = OLD;
        backupAfter = NEW;
      } else {
        await loadFile(jobsCsv(1, BIG, 'new'));
        await post('/backup_table/jobs');
        await post('/load_data_from_payload/jobs', [{ id: BIG + 1, job: 'extra' }]);
        url = '/restore_backup/jobs';
        before = NEW_PLUS_ONE;
        after = NEW;
        backupBefore = backupAfter = NEW;
      }

      // The operation, and a kill at a random moment after the server has received it.
      const delay = Math.floor(random(seed * 10 + Object.keys(WINDOW_MS).indexOf(op))() * WINDOW_MS[op]);
      const answer = fetch(`${s.base}${url}`, {
        method: 'POST',
        headers: op === 'insert' ? { ...auth, 'content-type': 'application/json' } : auth,
        body: op === 'insert' ? JSON.stringify(BATCH) : undefined,
      }).then(
        (r) => r.status,
        () => 'no answer' as const,
      );
      await s.waitForLog((l) => (l.req as { url?: string } | undefined)?.url === url);
      await new Promise((r) => setTimeout(r, delay));
      s.child.kill('SIGKILL');
      expect(await s.exited).toBe('SIGKILL');
      const status = await answer;
      expect([200, 'no answer']).toContain(status);

      // Nothing lost, nothing half-applied.
      const found = await withEngine(database.url, async (db) => fingerprint(await tableRows(db, 'jobs')));
      expect([before, after], `table after a kill ${delay} ms into the ${op}`).toContainEqual(found);
      if (status === 200) expect(found).toEqual(after);
      if (backupBefore) {
        const latest = fingerprint(await decodeBackup(backupFile, 'jobs'));
        expect([backupBefore, backupAfter]).toContainEqual(latest);
        for (const name of await readdir(path.dirname(backupFile))) {
          if (/^jobs-\d{8}T\d{9}Z\.avro$/.test(name))
            expect([backupBefore, backupAfter]).toContainEqual(
              fingerprint(await decodeBackup(path.join(path.dirname(backupFile), name), 'jobs')),
            );
        }
      }

      // A restart cleans up after the dead process and serves again.
      s = await start();
      const sweep = await s.waitForLog((l) => l.message === 'start-up clean-up');
      expect(sweep).toMatchObject({ alone: true });
      expect(await leftovers(database.url, bucket)).toEqual({ running: 0, stages: [], temps: [] });
      const health = await fetch(`${s.base}/readyz`);
      expect(health.status).toBe(200);
      if (op !== 'insert') {
        // The interrupted operation can simply be run again.
        await post(url);
      }
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(0);
      console.info(
        `${engine.name} ${op} seed ${seed}: killed after ${delay} ms, answer ${status}, ` +
          `table ${found.sha256 === after.sha256 ? 'new' : 'old'}, swept ${JSON.stringify({ runs: sweep.interrupted_runs, stages: sweep.staging_tables, temps: sweep.temp_files })}`,
      );
    });
  });
}

async function leftovers(url: string, bucket: string) {
  return withEngine(url, async (engine) => {
    const running = await engine.db
      .selectFrom('dataport_loads')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('status', '=', 'running')
      .executeTakeFirstOrThrow();
    const stages =
      engine.kind === 'mysql'
        ? await sql<{ name: string }>`SELECT TABLE_NAME AS name FROM information_schema.TABLES
            WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'dataport\\_stage\\_%'`.execute(engine.db)
        : engine.kind === 'postgres'
          ? await sql<{ name: string }>`SELECT tablename AS name FROM pg_tables
            WHERE tablename LIKE 'dataport\\_stage\\_%'`.execute(engine.db)
          : { rows: [] };
    return {
      running: Number(running.n),
      stages: stages.rows.map((r) => r.name),
      temps: await tempFiles(bucket),
    };
  });
}

async function tempFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.startsWith('.dataport-tmp-')) found.push(entry.name);
  }
  return found;
}
