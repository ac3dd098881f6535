import { mkdtempSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeEmployees } from '../../scripts/sample-data.js';
import { createEngine } from '../../src/db/index.js';
import { TOKEN } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';
import { freePort, startServerProcess, stopServerProcess, type ServerProcess } from './server-process.js';

/**
 * SIGTERM (what Cloud Run sends before it stops an instance) against the real server process, started
 * from the sources with tsx, while a historic load of a large generated file is in flight.
 */
const ROWS = 300_000;
const auth = { authorization: `Bearer ${TOKEN}` };

/** Holds the template bucket and each test's copy; removed at the end. */
let root = '';
let template = '';

beforeAll(async () => {
  // The sample bucket, with hired_employees.csv replaced by a file that takes seconds to load.
  root = mkdtempSync(path.join(tmpdir(), 'dataport-shutdown-'));
  template = path.join(root, 'template');
  await cp(path.resolve('storage'), template, { recursive: true });
  await writeEmployees(path.join(template, 'database/hired_employees/historic/hired_employees.csv'), {
    employees: ROWS,
  });
}, 60_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

for (const engine of testEngines()) {
  describe(`graceful shutdown on ${engine.name}`, { timeout: 120_000 }, () => {
    let server: ServerProcess | undefined;
    let database: Awaited<ReturnType<typeof engine.create>> | undefined;

    afterEach(async () => {
      stopServerProcess(server);
      await server?.exited;
      await database?.drop();
      database = undefined;
    });
    afterAll(() => stopServerProcess(server));

    /** A server with departments and jobs loaded; the next load (hired_employees) is the slow one. */
    async function start(graceMs: number) {
      database = await engine.create();
      const bucket = mkdtempSync(path.join(root, 'bucket-'));
      await cp(template, bucket, { recursive: true });
      const port = await freePort();
      server = await startServerProcess(['--import', 'tsx', 'src/server.ts'], {
        cwd: process.cwd(),
        port,
        env: {
          DATABASE_URL: database.url,
          STORAGE_URL: `file:${bucket}`,
          API_TOKEN: TOKEN,
          SHUTDOWN_GRACE_MS: String(graceMs),
          LOG_LEVEL: 'info',
        },
      });
      for (const table of ['departments', 'jobs']) {
        const res = await fetch(`${server.base}/load_historic_data/${table}`, {
          method: 'POST',
          headers: auth,
        });
        expect(res.status).toBe(200);
      }
      return server;
    }

    /** Starts the slow load and resolves once the server has received it (the answer stays pending). */
    async function slowLoad(s: ServerProcess): Promise<{ response: Promise<Response> }> {
      const response = fetch(`${s.base}/load_historic_data/hired_employees`, {
        method: 'POST',
        headers: auth,
      });
      response.catch(() => undefined);
      await s.waitForLog(
        (l) => (l.req as { url?: string } | undefined)?.url === '/load_historic_data/hired_employees',
      );
      return { response };
    }

    async function count(url: string, table: string) {
      const db = await createEngine(url);
      try {
        const [{ n }] = await db.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .execute();
        const runs = await db.db
          .selectFrom('dataport_loads')
          .select(['status'])
          .where('table_name', '=', table)
          .execute();
        return { rows: Number(n), runs: runs.map((r) => r.status) };
      } finally {
        await db.close();
      }
    }

    it('finishes the load in flight, refuses new connections meanwhile, and exits 0', async () => {
      const s = await start(60_000);
      const { response } = await slowLoad(s);
      await new Promise((r) => setTimeout(r, 200));
      s.child.kill('SIGTERM');
      await s.waitForLog((l) => l.message === 'shutting down: finishing requests in flight');
      // The listener is closed at once: a new connection is refused while the load goes on.
      await expect(fetch(`${s.base}/healthz`)).rejects.toThrow();
      const res = await response;
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toMatchObject({ table: 'hired_employees', rows_read: ROWS, rejected: 21 });
      expect(await s.exited).toBe(0);
      expect(s.logs.some((l) => l.message === 'shut down cleanly')).toBe(true);
      const after = await count(database!.url, 'hired_employees');
      expect(after).toEqual({ rows: ROWS - 21, runs: ['succeeded'] });
    });

    it('past the grace period, exits 0 and the load is never committed', async () => {
      const s = await start(300);
      const { response } = await slowLoad(s);
      await new Promise((r) => setTimeout(r, 300));
      s.child.kill('SIGTERM');
      // The client loses its connection: the load never answered.
      await expect(response).rejects.toThrow();
      expect(await s.exited).toBe(0);
      expect(s.logs.some((l) => String(l.message).startsWith('grace period over'))).toBe(true);
      expect(
        s.logs.some((l) => l.message === 'historic load finished' && l.table === 'hired_employees'),
      ).toBe(false);
      // The job's transaction was rolled back by the database; its run stays recorded as running.
      expect(await count(database!.url, 'hired_employees')).toEqual({ rows: 0, runs: ['running'] });
      expect((await count(database!.url, 'departments')).rows).toBe(12);
    });
  });
}
