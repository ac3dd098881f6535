import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prefersCsv } from '../../src/modules/metrics/metrics.routes.js';
import { byName, roundedMean } from '../../src/modules/metrics/metrics.service.js';
import { auth, createTestApp, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';

// Names that sort differently under binary, case-insensitive and locale collations.
const departments = [
  { id: 1, department: 'accounting' },
  { id: 2, department: 'Accounting' },
  { id: 3, department: 'Zeta' },
  { id: 4, department: 'beta' },
  { id: 5, department: 'Never Hired' },
  { id: 6, department: 'Staff' },
];
const jobs = [
  { id: 1, job: 'engineer' },
  { id: 2, job: 'Engineer' },
  { id: 3, job: 'Analyst' },
  { id: 4, job: 'zookeeper' },
];
const hire = (id: number, datetime: string, department_id: number, job_id: number) => ({
  id,
  name: `Person ${id}`,
  datetime,
  department_id,
  job_id,
});
const hires = [
  hire(1, '2021-01-15T10:00:00Z', 1, 1), // Q1
  hire(2, '2021-03-31T23:59:59.999Z', 1, 1), // last instant of Q1
  hire(3, '2021-04-01T00:00:00.000Z', 1, 3), // first instant of Q2
  hire(4, '2021-07-01T01:30:00+02:00', 2, 2), // Q3 locally, 2021-06-30T23:30Z: Q2 in UTC
  hire(5, '2021-12-31T23:59:59.999Z', 2, 1), // last instant of 2021: Q4
  hire(6, '2022-01-01T00:00:00.000Z', 2, 1), // first instant of 2022: Q1
  hire(7, '2021-09-30T22:00:00-03:00', 3, 4), // Q3 locally, 2021-10-01T01:00Z: Q4 in UTC
  hire(8, '2021-10-01T00:00:00Z', 3, 4), // Q4
  hire(9, '2020-12-31T23:59:59.999Z', 4, 3), // 2020 Q4
  hire(10, '2021-01-01T01:00:00+02:00', 4, 3), // 2021 locally, 2020-12-31T23:00Z: 2020 Q4
  hire(11, '2021-06-15T12:00:00Z', 3, 2), // Q2
  hire(12, '2021-05-05T05:05:05Z', 4, 3), // Q2
  // 2019: every department but 5 hires once, department 1 twice: mean exactly 1, only 1 is above.
  hire(13, '2019-02-01T00:00:00Z', 1, 1),
  hire(14, '2019-08-01T00:00:00Z', 1, 1),
  hire(15, '2019-03-01T00:00:00Z', 2, 2),
  hire(16, '2019-04-01T00:00:00Z', 3, 3),
  hire(17, '2019-05-01T00:00:00Z', 4, 4),
  hire(18, '2019-06-01T00:00:00Z', 6, 1),
  // 2023: one pair hires in every quarter, on the first and last instant of each.
  hire(19, '2023-01-01T00:00:00.000Z', 6, 2),
  hire(20, '2023-03-31T23:59:59.999Z', 6, 2),
  hire(21, '2023-04-01T00:00:00.000Z', 6, 2),
  hire(22, '2023-06-30T23:59:59.999Z', 6, 2),
  hire(23, '2023-07-01T00:00:00.000Z', 6, 2),
  hire(24, '2023-07-01T00:00:00.001Z', 6, 2),
  hire(25, '2023-09-30T23:59:59.999Z', 6, 2),
  hire(26, '2023-10-01T00:00:00.000Z', 6, 2),
  hire(27, '2023-08-15T00:00:00Z', 6, 4),
];

describe('name order and helpers', () => {
  it('sorts case-insensitively, then by exact code units', () => {
    const names = ['Zeta', 'beta', 'accounting', 'Accounting', 'Ångström', 'alpha', 'Alpha'];
    expect([...names].sort(byName)).toEqual([
      'Accounting',
      'accounting',
      'Alpha',
      'alpha',
      'beta',
      'Zeta',
      'Ångström',
    ]);
  });

  it('rounds the mean half up in integers', () => {
    expect(roundedMean(0, 0)).toBe(0);
    expect(roundedMean(9, 6)).toBe(1.5);
    expect(roundedMean(1, 6)).toBe(0.17);
    expect(roundedMean(1, 8)).toBe(0.13); // 0.125
    expect(roundedMean(1643, 12)).toBe(136.92);
  });

  it('negotiates CSV only when asked for it', () => {
    expect(prefersCsv(undefined)).toBe(false);
    expect(prefersCsv('*/*')).toBe(false);
    expect(prefersCsv('text/csv')).toBe(true);
    expect(prefersCsv('text/csv, */*;q=0.8')).toBe(true);
    expect(prefersCsv('text/csv, */*')).toBe(true);
    expect(prefersCsv('application/json, text/csv')).toBe(false);
    expect(prefersCsv('application/json;q=0.5, text/csv')).toBe(true);
    expect(prefersCsv('text/csv;q=0')).toBe(false);
  });
});

for (const engine of testEngines()) {
  describe(`metrics on ${engine.name}`, () => {
    let t: TestApp;
    const get = (url: string, headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'GET', url, headers });

    beforeAll(async () => {
      t = await createTestApp(engine);
      for (const [table, rows] of [
        ['departments', departments],
        ['jobs', jobs],
        ['hired_employees', hires],
      ] as const) {
        const res = await t.app.inject({
          method: 'POST',
          url: `/load_data_from_payload/${table}?atomic=true`,
          headers: auth,
          payload: rows,
        });
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json().inserted).toBe(rows.length);
      }
    });
    afterAll(async () => t?.close());

    it('counts hires per department, job and UTC quarter, ordered by name', async () => {
      const res = await get('/hired_by_quarter/2021');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json()).toEqual({
        year: 2021,
        rows: [
          { department: 'Accounting', job: 'Engineer', Q1: 0, Q2: 1, Q3: 0, Q4: 0 },
          { department: 'Accounting', job: 'engineer', Q1: 0, Q2: 0, Q3: 0, Q4: 1 },
          { department: 'accounting', job: 'Analyst', Q1: 0, Q2: 1, Q3: 0, Q4: 0 },
          { department: 'accounting', job: 'engineer', Q1: 2, Q2: 0, Q3: 0, Q4: 0 },
          { department: 'beta', job: 'Analyst', Q1: 0, Q2: 1, Q3: 0, Q4: 0 },
          { department: 'Zeta', job: 'Engineer', Q1: 0, Q2: 1, Q3: 0, Q4: 0 },
          { department: 'Zeta', job: 'zookeeper', Q1: 0, Q2: 0, Q3: 0, Q4: 2 },
        ],
      });
    });

    it('puts instants at a year boundary in the right year, in UTC', async () => {
      expect((await get('/hired_by_quarter/2022')).json()).toEqual({
        year: 2022,
        rows: [{ department: 'Accounting', job: 'engineer', Q1: 1, Q2: 0, Q3: 0, Q4: 0 }],
      });
      expect((await get('/hired_by_quarter/2020')).json()).toEqual({
        year: 2020,
        rows: [{ department: 'beta', job: 'Analyst', Q1: 0, Q2: 0, Q3: 0, Q4: 2 }],
      });
    });

    it('counts each quarter from its first instant to its last', async () => {
      expect((await get('/hired_by_quarter/2023')).json()).toEqual({
        year: 2023,
        rows: [
          { department: 'Staff', job: 'Engineer', Q1: 2, Q2: 2, Q3: 3, Q4: 1 },
          { department: 'Staff', job: 'zookeeper', Q1: 0, Q2: 0, Q3: 1, Q4: 0 },
        ],
      });
    });

    it('lists departments above the mean, a department without hires counting as 0', async () => {
      // 2021: 3 + 2 + 3 + 1 + 0 + 0 = 9 hires over 6 departments, mean 1.5; ties by id.
      expect((await get('/departments_above_mean/2021')).json()).toEqual({
        year: 2021,
        mean: 1.5,
        rows: [
          { id: 1, department: 'accounting', hired: 3 },
          { id: 3, department: 'Zeta', hired: 3 },
          { id: 2, department: 'Accounting', hired: 2 },
        ],
      });
      expect((await get('/departments_above_mean/2022')).json()).toEqual({
        year: 2022,
        mean: 0.17,
        rows: [{ id: 2, department: 'Accounting', hired: 1 }],
      });
      expect((await get('/departments_above_mean/2020')).json()).toEqual({
        year: 2020,
        mean: 0.33,
        rows: [{ id: 4, department: 'beta', hired: 2 }],
      });
    });

    it('keeps departments that hired exactly the mean out', async () => {
      expect((await get('/departments_above_mean/2019')).json()).toEqual({
        year: 2019,
        mean: 1,
        rows: [{ id: 1, department: 'accounting', hired: 2 }],
      });
    });

    it('answers an empty list for a year without hires', async () => {
      for (const year of [2030, 1900, 2100]) {
        expect((await get(`/hired_by_quarter/${year}`)).json()).toEqual({ year, rows: [] });
        expect((await get(`/departments_above_mean/${year}`)).json()).toEqual({ year, mean: 0, rows: [] });
      }
    });

    it('answers CSV with a header line for Accept: text/csv', async () => {
      const quarters = await get('/hired_by_quarter/2021', { accept: 'text/csv' });
      expect(quarters.statusCode).toBe(200);
      expect(quarters.headers['content-type']).toMatch(/^text\/csv/);
      expect(quarters.body).toBe(
        [
          'department,job,Q1,Q2,Q3,Q4',
          'Accounting,Engineer,0,1,0,0',
          'Accounting,engineer,0,0,0,1',
          'accounting,Analyst,0,1,0,0',
          'accounting,engineer,2,0,0,0',
          'beta,Analyst,0,1,0,0',
          'Zeta,Engineer,0,1,0,0',
          'Zeta,zookeeper,0,0,0,2',
          '',
        ].join('\n'),
      );
      const above = await get('/departments_above_mean/2021', { accept: 'text/csv' });
      expect(above.headers['content-type']).toMatch(/^text\/csv/);
      expect(above.body).toBe('id,department,hired\n1,accounting,3\n3,Zeta,3\n2,Accounting,2\n');
      expect((await get('/departments_above_mean/2030', { accept: 'text/csv' })).body).toBe(
        'id,department,hired\n',
      );
      expect((await get('/hired_by_quarter/2030', { accept: 'text/csv' })).body).toBe(
        'department,job,Q1,Q2,Q3,Q4\n',
      );
    });

    it('documents both media types in the OpenAPI document', async () => {
      const doc = (await get('/openapi.json')).json();
      for (const route of ['/hired_by_quarter/{year}', '/departments_above_mean/{year}']) {
        const responses = doc.paths[route].get.responses;
        expect(Object.keys(responses['200'].content).sort()).toEqual(['application/json', 'text/csv']);
        expect(responses['400']).toBeDefined();
      }
    });

    it('refuses a year that is not a whole number from 1900 to 2100', async () => {
      for (const year of ['abc', '1899', '2101', '2021.5', '-2021', '2e3', '%20']) {
        for (const path of ['hired_by_quarter', 'departments_above_mean']) {
          const res = await get(`/${path}/${year}`, { accept: 'text/csv' });
          expect(res.statusCode, `${path}/${year}`).toBe(400);
          expect(res.json().error.code).toBe('invalid_year');
        }
      }
    });
  });
}
