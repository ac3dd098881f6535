import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, countRows, createTestApp, putHistoric, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';
import { freePort } from '../production/server-process.js';
import { fingerprint, jobsCsv, jobsRows, tableRows } from './helpers.js';

/**
 * The database goes away in the middle of a historic load. The service runs against a throwaway
 * MariaDB server of its own (own data directory, port and socket), never the shared one: the test
 * SIGKILLs it while the load streams, expects 503 and an unchanged table, starts it again (InnoDB
 * crash recovery) and expects the same load to succeed.
 */
const wanted = testEngines().some((e) => e.name === 'mariadb');
const ROWS = 150_000;

describe.runIf(wanted)('database outage during a load (throwaway MariaDB)', () => {
  let dir = '';
  let port = 0;
  let server: ChildProcess | undefined;
  let t: TestApp | undefined;

  async function ready(timeoutMs = 60_000) {
    for (const deadline = Date.now() + timeoutMs; ;) {
      try {
        const conn = await mysql.createConnection({
          host: '127.0.0.1',
          port,
          user: 'root',
          connectTimeout: 1000,
        });
        await conn.end();
        return;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`throwaway MariaDB not up on ${port}`, { cause: e });
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async function start() {
    server = spawn(
      '/usr/sbin/mariadbd',
      [
        '--no-defaults',
        `--datadir=${path.join(dir, 'data')}`,
        `--port=${port}`,
        `--socket=${path.join(dir, 'sock')}`,
        `--pid-file=${path.join(dir, 'pid')}`,
        '--bind-address=127.0.0.1',
        '--skip-grant-tables',
        '--user=root',
        '--local-infile=1',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=64M',
        '--innodb-log-file-size=64M',
      ],
      { stdio: 'ignore' },
    );
    await ready();
  }

  async function crash() {
    const s = server!;
    const exited = new Promise((r) => s.once('exit', r));
    s.kill('SIGKILL');
    await exited;
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dataport-mariadb-outage-'));
    port = await freePort();
    execFileSync(
      'mariadb-install-db',
      [
        '--no-defaults',
        `--datadir=${path.join(dir, 'data')}`,
        '--user=root',
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
      ],
      { stdio: 'pipe', timeout: 120_000 },
    );
    await start();
    const admin = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
    await admin.query('CREATE DATABASE dataport_outage CHARACTER SET utf8mb4');
    await admin.end();
    const url = `mysql://root@127.0.0.1:${port}/dataport_outage`;
    t = await createTestApp({ name: 'mariadb', create: async () => ({ url, drop: async () => undefined }) });
  }, 180_000);

  afterAll(async () => {
    await t?.close().catch(() => undefined);
    if (server && server.exitCode === null) await crash();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(
    'answers 503, leaves the table as it was, and the same load succeeds once the database is back',
    { timeout: 180_000 },
    async () => {
      const load = () => t!.app.inject({ method: 'POST', url: '/load_historic_data/jobs', headers: auth });
      await putHistoric(t!, 'jobs', jobsCsv(1, 500, 'old'));
      expect((await load()).statusCode).toBe(200);
      const old = fingerprint(await tableRows(t!.ctx.engine, 'jobs'));
      expect(old).toEqual(fingerprint(jobsRows(1, 500, 'old')));

      await putHistoric(t!, 'jobs', jobsCsv(1, ROWS, 'new'));
      const during = load();
      // Wait until the load is under way (its run is recorded), then let it stream a little.
      for (const deadline = Date.now() + 20_000; ;) {
        const running = await t!.ctx.engine.db
          .selectFrom('dataport_loads')
          .select('id')
          .where('status', '=', 'running')
          .executeTakeFirst();
        if (running) break;
        if (Date.now() > deadline) throw new Error('the load never started');
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, 300));
      await crash();
      const failed = await during;
      expect(failed.statusCode, failed.body).toBe(503);
      expect(failed.json().error.code).toBe('database_unavailable');
      expect(failed.headers['retry-after']).toBeDefined();

      // While it is down, calls fail fast with 503 too.
      const down = await load();
      expect(down.statusCode, down.body).toBe(503);
      expect(down.json().error.code).toBe('database_unavailable');

      await start();
      expect(fingerprint(await tableRows(t!.ctx.engine, 'jobs'))).toEqual(old);
      const again = await load();
      expect(again.statusCode, again.body).toBe(200);
      expect(again.json()).toMatchObject({ rows_read: ROWS, loaded: ROWS, rejected: 0 });
      expect(await countRows(t!, 'jobs')).toBe(ROWS);
      expect(fingerprint(await tableRows(t!.ctx.engine, 'jobs'))).toEqual(
        fingerprint(jobsRows(1, ROWS, 'new')),
      );
    },
  );
});
