import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { auth, createTestApp, putHistoric, TOKEN, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';
import {
  freePort,
  startServerProcess,
  stopServerProcess,
  type ServerProcess,
} from '../production/server-process.js';
import { jobsCsv } from '../reliability/helpers.js';

/**
 * Authentication on every route that changes data, the limits that keep one client from exhausting the
 * process, and secrets kept out of logs, errors and the API description. (test/http/app.test.ts checks
 * missing, malformed and wrong tokens on one route; this covers the rest.)
 */
describe('configuration of the limits', () => {
  it('has documented defaults and refuses bad values', () => {
    expect(loadConfig({})).toMatchObject({
      requestTimeoutMs: 60_000,
      maxHeavyOperations: 2,
      bodyLimit: 5 * 1024 * 1024,
    });
    expect(() => loadConfig({ MAX_HEAVY_OPERATIONS: '0', REQUEST_TIMEOUT_MS: 'soon' })).toThrow(
      /MAX_HEAVY_OPERATIONS[\s\S]*|REQUEST_TIMEOUT_MS/,
    );
  });

  it('compares the token in constant time: both sides hashed, then timingSafeEqual', () => {
    // A timing measurement would be flaky; the property is structural, so check the structure.
    const source = readFileSync('src/http/auth.ts', 'utf8');
    expect(source).toMatch(
      /timingSafeEqual\(createHash\('sha256'\)\.update\(given\)\.digest\(\), expected\)/,
    );
    expect(source).not.toMatch(/given\s*===|===\s*token|token\s*===/);
  });
});

describe.each(testEngines())('authentication and limits on $name', (engine) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('needs the token on every POST route the API describes, and accepts it on GETs', async () => {
    t = await createTestApp(engine);
    const spec = (await t.app.inject('/openapi.json')).json();
    const posts = Object.entries(spec.paths as Record<string, Record<string, unknown>>)
      .filter(([, methods]) => 'post' in methods)
      .map(([path]) => path.replace('{table}', 'jobs'));
    expect(posts.length).toBeGreaterThanOrEqual(5);
    for (const url of posts) {
      for (const headers of [
        {},
        { authorization: `Bearer ${TOKEN.slice(0, -1)}X` },
        { authorization: `bearer ${TOKEN}` },
      ]) {
        const res = await t.app.inject({ method: 'POST', url, headers, payload: [{ id: 1, job: 'x' }] });
        expect(res.statusCode, url).toBe(401);
        expect(res.json().error.code).toBe('unauthorized');
      }
      const query = await t.app.inject({
        method: 'POST',
        url: `${url}?token=${TOKEN}`,
        payload: [{ id: 1, job: 'x' }],
      });
      expect(query.statusCode).toBe(401);
    }
    expect(await t.ctx.engine.db.selectFrom('jobs').selectAll().execute()).toEqual([]);
    expect(await t.ctx.engine.db.selectFrom('dataport_loads').selectAll().execute()).toEqual([]);
    for (const url of ['/rejects/jobs', '/backups/jobs', '/readyz', '/metrics']) {
      expect((await t.app.inject({ method: 'GET', url, headers: auth })).statusCode, url).toBe(200);
    }
  });

  it('applies MAX_BODY_BYTES to JSON and CSV bodies', async () => {
    t = await createTestApp(engine, { env: { MAX_BODY_BYTES: '2048' } });
    for (const [type, body] of [
      ['application/json', JSON.stringify([{ id: 1, job: 'x'.repeat(3000) }])],
      ['text/csv', `1,${'x'.repeat(3000)}\n`],
    ]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/load_data_from_payload/jobs',
        headers: { ...auth, 'content-type': type },
        payload: body,
      });
      expect(res.statusCode, type).toBe(413);
      expect(res.json().error.code).toBe('payload_too_large');
    }
  });

  it(
    'answers 408 to a client that stalls mid-request, but never cuts off a long load',
    { timeout: 60_000 },
    async () => {
      t = await createTestApp(engine, { env: { REQUEST_TIMEOUT_MS: '250' } });
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = t.app.server.address() as { port: number };
      const started = Date.now();
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(
            `POST /load_data_from_payload/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n` +
              'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"id":1,',
          );
        });
        let text = '';
        socket.on('data', (d) => (text += d));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
        setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(Date.now() - started).toBeLessThan(5000);
      // A load that takes longer than the timeout, once its request has arrived, still answers.
      await putHistoric(t, 'jobs', jobsCsv(1, 400_000, 'slow'));
      const begin = Date.now();
      const res = await fetch(`http://127.0.0.1:${port}/load_historic_data/jobs`, {
        method: 'POST',
        headers: auth,
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { loaded: number }).loaded).toBe(400_000);
      // It ran for longer than REQUEST_TIMEOUT_MS after its request had arrived.
      expect(Date.now() - begin).toBeGreaterThan(250);
    },
  );
});

describe('secrets never appear in logs, errors or the API description', () => {
  const PASSWORD = 'Pa55-w0rd-do-not-leak';
  let server: ServerProcess | undefined;
  afterEach(() => stopServerProcess(server));

  it.each([
    ['mysql', 'mysql'],
    ['postgres', 'postgres'],
  ])(
    'with a %s DATABASE_URL holding a password, on a database that is down',
    { timeout: 60_000 },
    async (scheme) => {
      const closed = await freePort();
      const env = {
        DATABASE_URL: `${scheme}://dataport:${encodeURIComponent(PASSWORD)}@127.0.0.1:${closed}/dataport`,
        STORAGE_URL: 'memory:',
        API_TOKEN: TOKEN,
        LOG_LEVEL: 'debug',
        MIGRATE_ON_START: 'false',
      };
      server = await startServerProcess(['--import', 'tsx', 'src/server.ts'], {
        cwd: process.cwd(),
        port: await freePort(),
        env,
      });
      const bodies: string[] = [];
      const call = async (
        method: string,
        url: string,
        headers: Record<string, string> = {},
        body?: string,
      ) => {
        const res = await fetch(`${server!.base}${url}`, { method, headers, body });
        bodies.push(await res.text());
        return res.status;
      };
      expect([404, 503]).toContain(await call('POST', '/load_historic_data/jobs', auth));
      expect(
        await call(
          'POST',
          '/load_data_from_payload/jobs',
          { ...auth, 'content-type': 'application/json' },
          '[{"id":1,"job":"x"}]',
        ),
      ).toBe(503);
      expect(
        await call(
          'POST',
          '/load_data_from_payload/jobs',
          { ...auth, 'content-type': 'application/json' },
          '{"id":',
        ),
      ).toBe(400);
      expect(await call('POST', '/run-migration', auth)).toBeGreaterThanOrEqual(500);
      expect(
        await call('POST', '/backup_table/jobs', { authorization: 'Bearer wrong-token-0123456789' }),
      ).toBe(401);
      expect(await call('GET', '/readyz')).toBe(503);
      expect(await call('GET', '/rejects/jobs')).toBe(503);
      expect(await call('GET', '/openapi.json')).toBe(200);
      expect(await call('GET', '/metrics')).toBe(200);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      const everything = [...bodies, JSON.stringify(server.logs), server.stderr()].join('\n');
      expect(server.logs.some((l) => l.severity === 'ERROR')).toBe(true);
      for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), TOKEN])
        expect(everything).not.toContain(secret);
    },
  );

  it(
    'when the server cannot start (wrong password on a live server), the message names no password',
    { timeout: 60_000 },
    async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
        env: {
          PATH: process.env.PATH ?? '',
          DATABASE_URL: `mysql://no_such_user:${PASSWORD}@127.0.0.1:3306/nothing_here`,
          STORAGE_URL: 'memory:',
          PORT: String(await freePort()),
          LOG_LEVEL: 'debug',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const code = await new Promise((r) => child.on('exit', r));
      expect(code).toBe(1);
      expect(out).toMatch(/failed to start/);
      expect(out).not.toContain(PASSWORD);
    },
  );
});
