import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, createTestApp, putHistoric, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';
import { fingerprint, jobsCsv, jobsRows, tableRows } from '../reliability/helpers.js';

/** Hostile table names on every route that takes one, and hostile `?key=` on restore. */
// Plain `..` segments are resolved by every HTTP client (and by inject) before a request is sent
// (RFC 3986), so they reach other routes; their percent-encoded forms reach the table parameter.
const NAMES = [
  '.%2e%2fjobs',
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '%252e%252e%252f',
  'jobs%2F..%2Fdepartments',
  'jobs;DROP TABLE jobs',
  "jobs' OR '1'='1",
  'jobs--',
  'jobs%00',
  'JOBS',
  'dataport_loads',
  'dataport_migrations',
  'sqlite_master',
  'information_schema.tables',
  '%E2%80%AEjobs',
  'j'.repeat(5000),
  '%E0%A4%A',
  '%C0%AF',
];
const ROUTES: [string, string][] = [
  ['POST', '/load_historic_data/'],
  ['POST', '/load_data_from_payload/'],
  ['POST', '/backup_table/'],
  ['POST', '/restore_backup/'],
  ['GET', '/rejects/'],
  ['GET', '/backups/'],
];

describe.each(testEngines())('hostile table names and keys on $name', (engine) => {
  let t: TestApp;
  const OLD = fingerprint(jobsRows(1, 10, 'old'));
  beforeAll(async () => {
    t = await createTestApp(engine);
    await putHistoric(t, 'jobs', jobsCsv(1, 10, 'old'));
    await t.app.inject({ method: 'POST', url: '/load_historic_data/jobs', headers: auth });
    await t.app.inject({ method: 'POST', url: '/backup_table/jobs', headers: auth });
  });
  afterAll(async () => t?.close());

  it('answers every hostile name with a 4xx and a stable code on every table route', async () => {
    for (const [method, route] of ROUTES) {
      for (const name of NAMES) {
        const res = await t.app.inject({
          method: method as 'GET' | 'POST',
          url: route + name,
          headers: { ...auth, 'content-type': 'application/json' },
          payload: method === 'POST' ? '[{"id":99,"job":"x"}]' : undefined,
        });
        const what = `${method} ${route}${name.slice(0, 60)}: ${res.statusCode} ${res.body.slice(0, 200)}`;
        expect(res.statusCode, what).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, what).toBeLessThan(500);
        expect(['unknown_table', 'not_found', 'invalid_request'], what).toContain(res.json().error?.code);
        // Nothing of the name is echoed back unbounded.
        expect(res.body.length).toBeLessThan(2000);
      }
    }
    expect(fingerprint(await tableRows(t.ctx.engine, 'jobs'))).toEqual(OLD);
    expect((await t.app.inject('/readyz')).statusCode).toBe(200);
  });

  it("refuses ?key= outside the table's own backups with 400 invalid_key", async () => {
    for (const key of [
      '../../etc/passwd',
      'database/jobs/backup/../../departments/backup/departments.avro',
      'database/jobs/backup/%2e%2e/x.avro',
      'database/departments/backup/departments.avro',
      '/database/jobs/backup/jobs.avro',
      'database/jobs/backup/',
      'database/jobs/backup//jobs.avro',
      'database\\jobs\\backup\\jobs.avro',
      'database/jobs/backup/jobs.avro\u0000.txt',
      `database/jobs/backup/${'a'.repeat(1100)}`,
      "database/jobs/backup/x';DROP TABLE jobs;--",
    ]) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/restore_backup/jobs?key=${encodeURIComponent(key)}`,
        headers: auth,
      });
      expect(res.statusCode, `${key.slice(0, 80)}: ${res.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      expect(['invalid_key', 'invalid_request', 'backup_not_found']).toContain(res.json().error.code);
      if (key.includes('..') || key.startsWith('/') || key.includes('departments'))
        expect(res.json().error.code).not.toBe('backup_not_found');
    }
    expect(fingerprint(await tableRows(t.ctx.engine, 'jobs'))).toEqual(OLD);
  });
});
