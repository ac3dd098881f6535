import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { auth, createTestApp, TOKEN, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';

describe('configuration', () => {
  it('has working defaults', () => {
    expect(loadConfig({})).toMatchObject({
      databaseUrl: 'sqlite:./data/dataport.sqlite',
      storageUrl: 'file:./storage',
      host: '127.0.0.1',
      port: 8080,
      migrateOnStart: true,
      logLevel: 'info',
    });
  });

  it('names every bad variable in one error', () => {
    try {
      loadConfig({
        DATABASE_URL: 'oracle://x',
        STORAGE_URL: 'ftp://x',
        PORT: '99999',
        LOG_LEVEL: 'loud',
        MIGRATE_ON_START: 'maybe',
        API_TOKEN: 'short',
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const message = (e as Error).message;
      for (const name of [
        'DATABASE_URL',
        'STORAGE_URL',
        'PORT',
        'LOG_LEVEL',
        'MIGRATE_ON_START',
        'API_TOKEN',
      ])
        expect(message).toContain(name);
    }
  });

  it('refuses to listen beyond loopback without a token', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(/API_TOKEN is unset/);
    expect(loadConfig({ HOST: '0.0.0.0', API_TOKEN: TOKEN }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '::1' }).host).toBe('::1');
  });
});

describe.each(testEngines())('HTTP app on $name', (engine) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(engine);
  });
  afterEach(async () => t?.close());

  it('reports health and readiness', async () => {
    expect((await t.app.inject('/healthz')).json()).toEqual({ ok: true });
    const ready = await t.app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ ready: true, database: { ok: true }, storage: { ok: true } });
  });

  it('runs migrations over HTTP; a second run applies nothing', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/run-migration', headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ applied: [], current: '2026-11-29T00-02-00_metrics_indexes' });
    expect((await t.app.inject({ method: 'POST', url: '/run-migration' })).statusCode).toBe(401);
  });

  it('applies pending migrations when started without them', async () => {
    const fresh = await createTestApp(engine, { env: { MIGRATE_ON_START: 'false' } });
    try {
      const res = await fresh.app.inject({ method: 'POST', url: '/run-migration', headers: auth });
      expect(res.json()).toEqual({
        applied: [
          '2026-11-29T00-00-00_tables',
          '2026-11-29T00-01-00_service_tables',
          '2026-11-29T00-02-00_metrics_indexes',
        ],
        current: '2026-11-29T00-02-00_metrics_indexes',
      });
    } finally {
      await fresh.close();
    }
  });

  it('guards every POST with the bearer token, compares it exactly, and leaves GETs open', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer ' },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Basic ${TOKEN}` },
      { authorization: TOKEN },
    ]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/load_data_from_payload/jobs',
        headers,
        payload: [{ id: 1, job: 'x' }],
      });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({
        error: { code: 'unauthorized', message: expect.stringContaining('Authorization: Bearer') },
      });
    }
    expect(
      (
        await t.app.inject({
          method: 'GET',
          url: '/rejects/jobs',
          headers: { authorization: 'Bearer wrong' },
        })
      ).statusCode,
    ).toBe(200);
  });

  it('serves OpenAPI 3 from the route schemas, without secrets, and the docs page', async () => {
    const res = await t.app.inject('/openapi.json');
    expect(res.statusCode).toBe(200);
    const spec = res.json();
    expect(spec.openapi).toMatch(/^3\./);
    for (const path of [
      '/load_historic_data/{table}',
      '/load_data_from_payload/{table}',
      '/rejects/{table}',
      '/run-migration',
      '/readyz',
    ]) {
      expect(Object.keys(spec.paths)).toContain(path);
    }
    expect(res.body).not.toContain(TOKEN);
    expect((await t.app.inject('/docs/')).statusCode).toBe(200);
  });

  it('answers unknown routes and tables with stable codes', async () => {
    const route = await t.app.inject('/nope');
    expect(route.statusCode).toBe(404);
    expect(route.json().error.code).toBe('not_found');
    const table = await t.app.inject(`/rejects/${'x'.repeat(500)}`);
    expect(table.statusCode).toBe(404);
    expect(table.json().error.code).toBe('unknown_table');
    const traversal = await t.app.inject({
      method: 'POST',
      url: '/load_historic_data/..%2F..%2Fetc%2Fpasswd',
      headers: auth,
    });
    expect(traversal.statusCode).toBe(404);
    expect(traversal.json().error.code).toBe('unknown_table');
  });

  it('serves the dashboard page and its chart library from the app', async () => {
    const page = await t.app.inject('/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('assets/chart.umd.js');
    const chart = await t.app.inject('/assets/chart.umd.js');
    expect(chart.statusCode).toBe(200);
    expect(chart.body.length).toBeGreaterThan(100_000);
  });
});
