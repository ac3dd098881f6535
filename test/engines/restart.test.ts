import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, createTestApp, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';

/**
 * The service survives a database restart. It runs against a throwaway PostgreSQL server of its own
 * (own data directory and port), never the shared one: stop it, expect 503s, start it, expect recovery.
 */
const bin = existsSync('/usr/lib/postgresql')
  ? execFileSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1']).toString().trim()
  : '';
const wanted = testEngines().some((e) => e.name === 'postgres');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

// initdb and the server refuse to run as root: they run as the postgres user when we are root.
function asPostgres(file: string, args: string[]) {
  const command =
    process.getuid?.() === 0
      ? (['runuser', ['-u', 'postgres', '--', file, ...args]] as const)
      : ([file, args] as const);
  return execFileSync(command[0], command[1], { stdio: 'pipe', timeout: 60_000 }).toString();
}

describe.runIf(wanted)('database restart (throwaway PostgreSQL)', () => {
  if (wanted && !bin)
    throw new Error('TEST_ENGINES includes postgres, but no /usr/lib/postgresql/*/bin for the restart test');
  let dir = '';
  let port = 0;
  let t: TestApp | undefined;
  const pgCtl = (...args: string[]) =>
    asPostgres(path.join(bin, 'pg_ctl'), ['-D', path.join(dir, 'data'), ...args]);
  const start = () =>
    pgCtl(
      '-w',
      '-t',
      '30',
      '-l',
      path.join(dir, 'log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      'start',
    );
  const stop = () => pgCtl('-w', '-t', '30', '-m', 'fast', 'stop');

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dataport-pg-restart-'));
    if (process.getuid?.() === 0) {
      const { uid, gid } = JSON.parse(
        execFileSync('sh', [
          '-c',
          'printf \'{"uid":%s,"gid":%s}\' $(id -u postgres) $(id -g postgres)',
        ]).toString(),
      );
      chownSync(dir, uid, gid);
    }
    port = await freePort();
    asPostgres(path.join(bin, 'initdb'), [
      '-D',
      path.join(dir, 'data'),
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
      '-E',
      'UTF8',
    ]);
    start();
    const server = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const admin = new pg.Client({ connectionString: server });
    await admin.connect();
    await admin.query('CREATE DATABASE dataport_restart');
    await admin.end();
    const url = `postgres://postgres@127.0.0.1:${port}/dataport_restart`;
    t = await createTestApp({ name: 'postgres', create: async () => ({ url, drop: async () => undefined }) });
  }, 120_000);

  afterAll(async () => {
    await t?.close().catch(() => undefined);
    if (dir) {
      try {
        asPostgres(path.join(bin, 'pg_ctl'), ['-D', path.join(dir, 'data'), '-m', 'immediate', 'stop']);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const rejects = () => t!.app.inject({ method: 'GET', url: '/rejects/departments', headers: auth });
  const ready = () => t!.app.inject({ method: 'GET', url: '/readyz' });

  it(
    'answers 503 database_unavailable while the server is down, and recovers by itself',
    { timeout: 90_000 },
    async () => {
      expect((await rejects()).statusCode).toBe(200);
      expect((await ready()).statusCode).toBe(200);

      stop();
      const down = await rejects();
      expect(down.statusCode).toBe(503);
      expect(down.json().error.code).toBe('database_unavailable');
      const insert = await t!.app.inject({
        method: 'POST',
        url: '/load_data_from_payload/departments',
        headers: auth,
        payload: [{ id: 1, department: 'x' }],
      });
      expect(insert.statusCode).toBe(503);
      expect(insert.json().error.code).toBe('database_unavailable');
      const notReady = await ready();
      expect(notReady.statusCode).toBe(503);
      expect(notReady.json()).toMatchObject({ ready: false, database: { ok: false } });

      start();
      const deadline = Date.now() + 30_000;
      while ((await ready()).statusCode !== 200) {
        if (Date.now() > deadline) throw new Error('not ready again 30 s after the database came back');
        await new Promise((r) => setTimeout(r, 250));
      }
      expect((await rejects()).statusCode).toBe(200);
      const again = await t!.app.inject({
        method: 'POST',
        url: '/load_data_from_payload/departments',
        headers: auth,
        payload: [{ id: 1, department: 'x' }],
      });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toMatchObject({ inserted: 1 });
    },
  );
});
