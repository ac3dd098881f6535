import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allRows, auth, countRows, createTestApp, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';

const employee = (id: number, extra: Record<string, unknown> = {}) => ({
  id,
  name: `Person ${id}`,
  datetime: '2021-06-01T12:00:00Z',
  department_id: 1,
  job_id: 1,
  ...extra,
});

describe.each(testEngines())('batch insert on $name', (engine) => {
  let t: TestApp;
  const post = (
    table: string,
    payload: unknown,
    options: { query?: string; headers?: Record<string, string> } = {},
  ) =>
    t.app.inject({
      method: 'POST',
      url: `/load_data_from_payload/${table}${options.query ?? ''}`,
      headers: { ...auth, ...options.headers },
      ...(typeof payload === 'string' ? { payload } : { payload: payload as object }),
    });

  beforeEach(async () => {
    t = await createTestApp(engine);
    await post('departments', [{ id: 1, department: 'Sales' }]);
    await post('jobs', [{ id: 1, job: 'Analyst' }]);
  });
  afterEach(async () => t?.close());

  it('inserts valid rows, refuses and logs the others with their index and reason', async () => {
    const res = await post('hired_employees', [
      employee(1),
      employee(2, { department_id: 9 }),
      employee(3, { extra: 'x' }),
      employee(1),
      employee(4, { datetime: '2021-06-01 12:00:00' }),
      employee(5, { name: '   ' }),
      employee(6, { id: 1.5 }),
      employee(7),
    ]);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ table: 'hired_employees', received: 8, inserted: 2, rejected: 6 });
    expect(
      body.rejects.map((r: { index: number; column: string; reason: string }) => [
        r.index,
        r.column,
        r.reason,
      ]),
    ).toEqual([
      [1, 'department_id', 'unknown_reference'],
      [2, 'extra', 'unknown_field'],
      [3, 'id', 'duplicate_id'],
      [4, 'datetime', 'invalid_datetime'],
      [5, 'name', 'missing_value'],
      [6, 'id', 'invalid_integer'],
    ]);
    expect((await allRows(t, 'hired_employees')).map((r) => r.id)).toEqual([1, 7]);
    const log = (
      await t.app.inject({ method: 'GET', url: `/rejects/hired_employees?load_id=${body.load_id}` })
    ).json();
    expect(log.total).toBe(6);
    expect(
      log.rejects.every(
        (r: { source: string; index: number; line?: number }) =>
          r.source === 'payload' && r.line === undefined,
      ),
    ).toBe(true);
    expect(JSON.parse(log.rejects.find((r: { index: number }) => r.index === 2).raw)).toEqual(
      employee(3, { extra: 'x' }),
    );
  });

  it('refuses an id that is already in the table', async () => {
    await post('hired_employees', [employee(1)]);
    const res = (await post('hired_employees', [employee(1, { name: 'Other' }), employee(2)])).json();
    expect(res).toMatchObject({
      inserted: 1,
      rejected: 1,
      rejects: [{ index: 0, column: 'id', reason: 'duplicate_id' }],
    });
    expect((await allRows(t, 'hired_employees'))[0].name).toBe('Person 1');
  });

  it('accepts one object, and CSV lines in the historic format', async () => {
    expect((await post('jobs', { id: 2, job: 'Engineer' })).json()).toMatchObject({
      received: 1,
      inserted: 1,
    });
    const csv = await post('jobs', '3,"Chief, Data"\r\n4,O\'Neil\n5\n', {
      headers: { 'content-type': 'text/csv' },
    });
    expect(csv.json()).toMatchObject({
      received: 3,
      inserted: 2,
      rejected: 1,
      rejects: [{ index: 2, reason: 'wrong_field_count' }],
    });
    expect((await allRows(t, 'jobs')).map((r) => r.job)).toEqual([
      'Analyst',
      'Engineer',
      'Chief, Data',
      "O'Neil",
    ]);
  });

  it('with atomic=true refuses the whole batch when one row is invalid', async () => {
    const res = await post('hired_employees', [employee(1), employee(2, { job_id: 42 })], {
      query: '?atomic=true',
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({
      code: 'validation_failed',
      rejects: [{ index: 1, column: 'job_id', reason: 'unknown_reference' }],
    });
    expect(await countRows(t, 'hired_employees')).toBe(0);
    const log = (await t.app.inject({ method: 'GET', url: '/rejects/hired_employees' })).json();
    expect(log.total).toBe(1);
    expect((await post('hired_employees', [employee(1)], { query: '?atomic=true' })).json()).toMatchObject({
      inserted: 1,
    });
  });

  it('takes 1 to 1000 rows', async () => {
    const empty = await post('jobs', []);
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error.code).toBe('empty_batch');
    const big = await post(
      'jobs',
      Array.from({ length: 1001 }, (_, i) => ({ id: i + 10, job: `Job ${i}` })),
    );
    expect(big.statusCode).toBe(400);
    expect(big.json().error.code).toBe('batch_too_large');
    const bigCsv = await post(
      'jobs',
      Array.from({ length: 1001 }, (_, i) => `${i + 10},Job ${i}`).join('\n'),
      { headers: { 'content-type': 'text/csv' } },
    );
    expect(bigCsv.json().error.code).toBe('batch_too_large');
    expect(await countRows(t, 'jobs')).toBe(1);
    const full = await post(
      'jobs',
      Array.from({ length: 1000 }, (_, i) => ({ id: i + 10, job: `Job ${i}` })),
    );
    expect(full.json()).toMatchObject({ received: 1000, inserted: 1000, rejected: 0 });
  });

  it('answers clear errors for bad requests and changes nothing', async () => {
    const bad = await post('jobs', '[{"id": 2, "job": "x"', {
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('invalid_json');
    const scalar = await post('jobs', '42', { headers: { 'content-type': 'application/json' } });
    expect(scalar.statusCode).toBe(400);
    expect(scalar.json().error.code).toBe('invalid_request');
    const xml = await post('jobs', '<rows/>', { headers: { 'content-type': 'application/xml' } });
    expect(xml.statusCode).toBe(415);
    expect(xml.json().error.code).toBe('unsupported_media_type');
    const unknown = await post('salaries', [{ id: 1 }]);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('unknown_table');
    const badQuery = await post('jobs', [{ id: 2, job: 'x' }], { query: '?atomic=maybe' });
    expect(badQuery.statusCode).toBe(400);
    expect(badQuery.json().error.code).toBe('invalid_request');
    const proto = await post('jobs', '[{"id": 2, "job": "x", "__proto__": {"a": 1}}]', {
      headers: { 'content-type': 'application/json' },
    });
    expect(proto.statusCode).toBe(400);
    expect(proto.json().error.code).toBe('invalid_json');
    expect(await countRows(t, 'jobs')).toBe(1);
  });

  it('answers 413 payload_too_large over the body limit', async () => {
    const small = await createTestApp(engine, { env: { MAX_BODY_BYTES: '2048' } });
    try {
      const res = await small.app.inject({
        method: 'POST',
        url: '/load_data_from_payload/jobs',
        headers: auth,
        payload: Array.from({ length: 200 }, (_, i) => ({ id: i + 1, job: `Job ${i}` })),
      });
      expect(res.statusCode).toBe(413);
      expect(res.json().error.code).toBe('payload_too_large');
      expect(await countRows(small, 'jobs')).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('keeps every id exactly once under concurrent overlapping batches', async () => {
    const batches = Array.from({ length: 20 }, (_, b) =>
      Array.from({ length: 10 }, (_, i) => employee(((b * 7 + i) % 50) + 1)),
    );
    const results = (await Promise.all(batches.map((rows) => post('hired_employees', rows)))).map((r) =>
      r.json(),
    );
    const inserted = results.reduce((n, r) => n + r.inserted, 0);
    const rejected = results.reduce((n, r) => n + r.rejected, 0);
    const ids = (await allRows(t, 'hired_employees')).map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(inserted).toBe(ids.length);
    expect(inserted + rejected).toBe(200);
    const logged = (await t.app.inject({ method: 'GET', url: '/rejects/hired_employees?limit=1000' })).json();
    expect(logged.total).toBe(rejected);
  });

  it('keeps atomic batches whole under concurrent overlapping batches', async () => {
    const batches = Array.from({ length: 20 }, (_, b) =>
      Array.from({ length: 10 }, (_, i) => employee(((b * 7 + i) % 50) + 1)),
    );
    const responses = await Promise.all(
      batches.map((rows) => post('hired_employees', rows, { query: '?atomic=true' })),
    );
    const ids = (await allRows(t, 'hired_employees')).map((r) => r.id);
    // The table holds exactly the batches answered 200, each whole: none of a refused one.
    const accepted: number[] = [];
    responses.forEach((res, b) => {
      if (res.statusCode === 200) {
        expect(res.json().inserted).toBe(10);
        accepted.push(...batches[b].map((r) => r.id));
      } else {
        expect(res.statusCode).toBe(422);
        expect(res.json().error.code).toBe('validation_failed');
        const refused = res.json().error.rejects;
        expect(refused.length).toBeGreaterThan(0);
        for (const r of refused) expect(r.reason).toBe('duplicate_id');
      }
    });
    expect(accepted.length).toBeGreaterThan(0);
    expect(ids.sort((a, b) => a - b)).toEqual(accepted.sort((a, b) => a - b));
  });

  it('pages the reject log newest first and validates its query', async () => {
    await post(
      'jobs',
      Array.from({ length: 5 }, (_, i) => ({ id: i + 100, job: '' })),
    );
    const page = (await t.app.inject({ method: 'GET', url: '/rejects/jobs?limit=2&offset=1' })).json();
    expect(page.total).toBe(5);
    expect(page.rejects.map((r: { index: number }) => r.index)).toEqual([3, 2]);
    const bad = await t.app.inject({ method: 'GET', url: '/rejects/jobs?limit=0' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('invalid_request');
  });
});
