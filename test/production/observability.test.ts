import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger, requestLogging, traceOf, TRACE_FIELD } from '../../src/logging.js';
import { auth, createTestApp, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';

/** A logger writing into an array of parsed JSON lines. */
function capture(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { log: createLogger(level, sink), lines };
}

/** The value of one sample line (`name{labels} value`) in a Prometheus text page; 0 when absent. */
function sample(page: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of page.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: string[] = (m[2] ?? '').match(/[a-z_]+="[^"]*"/g) ?? [];
    if (want.every((w) => have.includes(w))) return Number(m[3]);
  }
  return 0;
}

describe('logs for Cloud Logging', () => {
  it('writes severity, message, an ISO time, and a stack_trace for errors', () => {
    const { log, lines } = capture('debug');
    log.info({ table: 'jobs' }, 'hello');
    log.warn('careful');
    log.error({ err: new Error('boom') }, 'failed');
    log.debug('details');
    expect(lines[0]).toMatchObject({ severity: 'INFO', level: 30, message: 'hello', table: 'jobs' });
    expect(lines[0].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(lines[0]).not.toHaveProperty('msg');
    expect(lines[1].severity).toBe('WARNING');
    expect(lines[2].severity).toBe('ERROR');
    expect(String(lines[2].stack_trace)).toMatch(/^Error: boom\n\s+at /);
    expect(lines[3].severity).toBe('DEBUG');
  });

  it('reads trace ids from x-cloud-trace-context and traceparent', () => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    expect(traceOf({ traceparent: `00-${trace}-00f067aa0ba902b7-01` })).toEqual({
      trace,
      span: '00f067aa0ba902b7',
    });
    expect(traceOf({ 'x-cloud-trace-context': `${trace.toUpperCase()}/123;o=1` })).toEqual({
      trace,
      span: '000000000000007b',
    });
    expect(traceOf({ 'x-cloud-trace-context': `${trace}` })).toEqual({ trace, span: undefined });
    expect(traceOf({ traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` })).toBeNull();
    expect(traceOf({ 'x-cloud-trace-context': 'nonsense' })).toBeNull();
    expect(traceOf({})).toBeNull();
  });

  async function requestLines(project: string | undefined, headers: Record<string, string>) {
    const { log, lines } = capture();
    const app = Fastify({ loggerInstance: log, ...requestLogging(project) });
    app.get('/x', async (request) => {
      request.log.info('inside');
      return { id: request.id };
    });
    const res = await app.inject({ url: '/x', headers });
    await app.close();
    return { id: res.json().id as string, lines: lines.filter((l) => l.reqId !== undefined) };
  }

  it('uses the trace id as the request id and, with a project, logs the trace field', async () => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const withProject = await requestLines('my-project', { 'x-cloud-trace-context': `${trace}/1;o=1` });
    expect(withProject.id).toBe(trace);
    expect(withProject.lines.length).toBeGreaterThanOrEqual(3);
    for (const line of withProject.lines) {
      expect(line.reqId).toBe(trace);
      expect(line[TRACE_FIELD]).toBe(`projects/my-project/traces/${trace}`);
      expect(line['logging.googleapis.com/spanId']).toBe('0000000000000001');
    }
    const plain = await requestLines(undefined, {});
    expect(plain.id).toMatch(/^[0-9a-f]{32}$/);
    for (const line of plain.lines) {
      expect(line.reqId).toBe(plain.id);
      expect(line).not.toHaveProperty(TRACE_FIELD);
    }
  });
});

describe('config for production', () => {
  it('reads SHUTDOWN_GRACE_MS (default 10000) and GOOGLE_CLOUD_PROJECT', () => {
    expect(loadConfig({}).shutdownGraceMs).toBe(10_000);
    expect(loadConfig({ SHUTDOWN_GRACE_MS: '0' }).shutdownGraceMs).toBe(0);
    expect(loadConfig({ GOOGLE_CLOUD_PROJECT: 'p1' }).googleCloudProject).toBe('p1');
    expect(() => loadConfig({ SHUTDOWN_GRACE_MS: '10s', LOG_LEVEL: 'loud' })).toThrow(
      /SHUTDOWN_GRACE_MS must be a whole number from 0 to 3600000, got '10s'[\s\S]*LOG_LEVEL/,
    );
  });
});

for (const engine of testEngines()) {
  describe(`GET /metrics on ${engine.name}`, () => {
    let t: TestApp;
    let other: TestApp;
    const page = async (app = t) => {
      const res = await app.app.inject({ url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      return res.body;
    };

    beforeAll(async () => {
      t = await createTestApp(engine, { withSamples: true });
      other = await createTestApp(engine, { withSamples: true });
    });
    afterAll(async () => {
      await t?.close();
      await other?.close();
    });

    it('counts rows loaded, inserted and rejected by table, source and reason', async () => {
      for (const table of ['departments', 'jobs']) {
        const res = await t.app.inject({
          method: 'POST',
          url: `/load_historic_data/${table}`,
          headers: auth,
        });
        expect(res.statusCode).toBe(200);
      }
      const batch = await t.app.inject({
        method: 'POST',
        url: '/load_data_from_payload/jobs',
        headers: auth,
        payload: [
          { id: 900, job: 'Data Engineer' },
          { id: 901, job: '' },
          { id: 902, job: 'x'.repeat(101) },
        ],
      });
      expect(batch.json()).toMatchObject({ inserted: 1, rejected: 2 });
      const body = await page();
      expect(sample(body, 'dataport_rows_loaded_total', { table: 'departments' })).toBe(12);
      expect(sample(body, 'dataport_rows_loaded_total', { table: 'jobs' })).toBe(183);
      expect(sample(body, 'dataport_rows_inserted_total', { table: 'jobs' })).toBe(1);
      const rejected = (table: string, source: string, reason: string) =>
        sample(body, 'dataport_rows_rejected_total', { table, source, reason });
      expect(rejected('departments', 'historic', 'duplicate_id')).toBe(1);
      expect(rejected('departments', 'historic', 'missing_value')).toBe(1);
      expect(rejected('jobs', 'historic', 'invalid_integer')).toBe(1);
      expect(rejected('jobs', 'payload', 'missing_value')).toBe(1);
      expect(rejected('jobs', 'payload', 'too_long')).toBe(1);
    });

    it('times requests by route pattern and status, never by raw URL', async () => {
      await t.app.inject({ method: 'POST', url: '/load_historic_data/nope', headers: auth });
      await t.app.inject({ url: '/no/such/page' });
      const body = await page();
      const count = (route: string, status: string) =>
        sample(body, 'dataport_http_request_duration_seconds_count', { route, status_code: status });
      expect(count('/load_historic_data/:table', '200')).toBe(2);
      expect(count('/load_historic_data/:table', '404')).toBe(1);
      expect(count('/load_data_from_payload/:table', '200')).toBe(1);
      expect(count('unmatched', '404')).toBe(1);
      expect(body).not.toContain('/load_historic_data/jobs');
      expect(body).not.toContain('/no/such/page');
    });

    it('records backup and restore durations and sizes', async () => {
      const backup = await t.app.inject({ method: 'POST', url: '/backup_table/jobs', headers: auth });
      expect(backup.statusCode).toBe(200);
      const restore = await t.app.inject({ method: 'POST', url: '/restore_backup/jobs', headers: auth });
      expect(restore.statusCode).toBe(200);
      const body = await page();
      expect(sample(body, 'dataport_backup_duration_seconds_count', { table: 'jobs' })).toBe(1);
      expect(sample(body, 'dataport_backup_size_bytes_sum', { table: 'jobs' })).toBe(backup.json().bytes);
      expect(sample(body, 'dataport_backup_rows_sum', { table: 'jobs' })).toBe(184);
      expect(sample(body, 'dataport_restore_duration_seconds_count', { table: 'jobs' })).toBe(1);
      expect(sample(body, 'dataport_restore_rows_sum', { table: 'jobs' })).toBe(184);
    });

    it('includes process metrics, and keeps each app’s counters apart', async () => {
      const mine = await page();
      expect(mine).toContain('# TYPE process_cpu_user_seconds_total counter');
      expect(mine).toContain('nodejs_eventloop_lag_seconds');
      const theirs = await page(other);
      expect(sample(theirs, 'dataport_rows_loaded_total', { table: 'jobs' })).toBe(0);
      expect(theirs).toContain('process_cpu_user_seconds_total');
    });
  });
}
