import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsStore } from '../../src/storage/fs-store.js';
import type { ObjectStore } from '../../src/storage/types.js';
import { allRows, auth, countRows, createTestApp, putHistoric, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';

const load = (t: TestApp, table: string, headers: Record<string, string> = auth) =>
  t.app.inject({ method: 'POST', url: `/load_historic_data/${table}`, headers });

const rejects = async (t: TestApp, table: string, query = '') =>
  (await t.app.inject({ method: 'GET', url: `/rejects/${table}?limit=1000${query}` })).json();

/** Departments and jobs every employee test needs. */
async function seedParents(t: TestApp) {
  await putHistoric(t, 'departments', '1,Sales\n2,Supply Chain\n');
  await putHistoric(t, 'jobs', '1,Analyst\n2,Engineer\n');
  expect((await load(t, 'departments')).statusCode).toBe(200);
  expect((await load(t, 'jobs')).statusCode).toBe(200);
}

describe.each(testEngines())('historic load on $name', (engine) => {
  let t: TestApp;
  afterEach(async () => t?.close());

  describe('with the sample bucket', () => {
    beforeEach(async () => {
      t = await createTestApp(engine, { withSamples: true });
    });

    it('loads the three sample tables and logs every reject with its line and reason', async () => {
      const d = await load(t, 'departments');
      expect(d.statusCode).toBe(200);
      expect(d.json()).toMatchObject({
        table: 'departments',
        source: 'database/departments/historic/departments.csv',
        rows_read: 14,
        loaded: 12,
        rejected: 2,
      });
      expect((await load(t, 'jobs')).json()).toMatchObject({ rows_read: 185, loaded: 183, rejected: 2 });
      const e = (await load(t, 'hired_employees')).json();
      expect(e).toMatchObject({ rows_read: 2000, loaded: 1979, rejected: 21 });
      expect(await countRows(t, 'hired_employees')).toBe(1979);
      const log = await rejects(t, 'hired_employees', `&load_id=${e.load_id}`);
      expect(log.total).toBe(21);
      const byReason: Record<string, number> = {};
      for (const r of log.rejects) byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
      expect(byReason).toEqual({
        missing_value: 3,
        invalid_integer: 3,
        too_long: 3,
        invalid_datetime: 3,
        unknown_reference: 3,
        duplicate_id: 3,
        wrong_field_count: 3,
      });
      for (const r of log.rejects) {
        expect(r.line).toBeGreaterThan(1);
        expect(r.source).toBe('database/hired_employees/historic/hired_employees.csv');
        expect(r.raw.length).toBeGreaterThan(0);
      }
    });

    it('is idempotent: a second run gives the same table and replaces rows by id', async () => {
      await load(t, 'departments');
      await load(t, 'jobs');
      await load(t, 'hired_employees');
      const before = await allRows(t, 'hired_employees');
      await t.ctx.engine.db
        .updateTable('hired_employees')
        .set({ name: 'Changed' })
        .where('id', '=', before[0].id)
        .execute();
      const again = (await load(t, 'hired_employees')).json();
      expect(again).toMatchObject({ rows_read: 2000, loaded: 1979, rejected: 21 });
      expect(await allRows(t, 'hired_employees')).toEqual(before);
    });
  });

  describe('with files the test writes', () => {
    beforeEach(async () => {
      t = await createTestApp(engine);
    });

    it('reads BOM, CRLF, mixed endings, quoted commas and quotes, apostrophes, line breaks in quotes and blank lines', async () => {
      await seedParents(t);
      const csv =
        '\uFEFF1,"Smith, John",2021-01-01T00:00:00Z,1,1\r\n' +
        "2,O'Brien,2021-02-01T10:00:00.250+02:00,2,2\n" +
        '\r\n' +
        '3,"Say ""hi""",2021-03-01T00:00:00Z,1,2\r\n' +
        '4,"Two\nLines",2021-04-01T00:00:00Z,2,1\n' +
        '5, José Zoë ,2021-05-01T00:00:00Z,1,1';
      await putHistoric(t, 'hired_employees', csv);
      const res = (await load(t, 'hired_employees')).json();
      expect(res).toMatchObject({ rows_read: 5, loaded: 5, rejected: 0 });
      const names = (await allRows(t, 'hired_employees')).map((r) => r.name);
      expect(names).toEqual(['Smith, John', "O'Brien", 'Say "hi"', 'Two\nLines', 'José Zoë']);
      const [, second] = await t.ctx.engine.db
        .selectFrom('hired_employees')
        .select('datetime')
        .orderBy('id')
        .execute();
      expect(t.ctx.engine.caps.decodeDatetime(second.datetime)).toBe('2021-02-01T08:00:00.250Z');
    });

    it('rejects invalid UTF-8 and wrong field counts with the line number and the original text', async () => {
      await seedParents(t);
      const csv = Buffer.concat([
        Buffer.from('1,Ann,2021-01-01T00:00:00Z,1,1\n2,B'),
        Buffer.from([0xc3, 0x28]),
        Buffer.from(
          'b,2021-01-01T00:00:00Z,1,1\n3,Cy,2021-01-01T00:00:00Z,1\n4,Dee,2021-01-01T00:00:00Z,1,1\n',
        ),
      ]);
      await putHistoric(t, 'hired_employees', csv);
      expect((await load(t, 'hired_employees')).json()).toMatchObject({
        rows_read: 4,
        loaded: 2,
        rejected: 2,
      });
      const log = await rejects(t, 'hired_employees');
      const found = log.rejects.map((r: { line: number; reason: string; column: string | null }) => [
        r.line,
        r.reason,
        r.column,
      ]);
      expect(found).toEqual(
        expect.arrayContaining([
          [2, 'invalid_encoding', 'name'],
          [3, 'wrong_field_count', null],
        ]),
      );
      expect(log.rejects.find((r: { line: number }) => r.line === 3).raw).toBe('3,Cy,2021-01-01T00:00:00Z,1');
    });

    it('refuses unknown references and ids repeated in the file, keeping the first', async () => {
      await seedParents(t);
      await putHistoric(
        t,
        'hired_employees',
        '1,Ann,2021-01-01T00:00:00Z,1,1\n1,Again,2021-01-01T00:00:00Z,1,1\n2,Bo,2021-01-01T00:00:00Z,9,1\n3,Cy,2021-01-01T00:00:00Z,1,7\n',
      );
      expect((await load(t, 'hired_employees')).json()).toMatchObject({
        rows_read: 4,
        loaded: 1,
        rejected: 3,
      });
      expect((await allRows(t, 'hired_employees')).map((r) => r.name)).toEqual(['Ann']);
      const reasons = (await rejects(t, 'hired_employees')).rejects.map(
        (r: { line: number; reason: string; column: string }) => `${r.line}:${r.column}:${r.reason}`,
      );
      expect(reasons.sort()).toEqual([
        '2:id:duplicate_id',
        '3:department_id:unknown_reference',
        '4:job_id:unknown_reference',
      ]);
    });

    it('is atomic: a file that breaks off after many rows leaves the table as it was', async () => {
      await putHistoric(t, 'departments', '1,Sales\n');
      await load(t, 'departments');
      const lines = Array.from({ length: 12_000 }, (_, i) => `${i + 2},Dept ${i}`).join('\n');
      await putHistoric(t, 'departments', `${lines}\n99999,"unterminated\n`);
      const res = await load(t, 'departments');
      expect(res.statusCode).toBe(422);
      expect(res.json().error.code).toBe('invalid_csv');
      expect(res.json().error.message).toMatch(/line 12001/);
      expect(await allRows(t, 'departments')).toEqual([{ id: 1, department: 'Sales' }]);
      expect((await rejects(t, 'departments')).total).toBe(0);
    });

    it('is atomic when the storage stream fails part-way', async () => {
      const failing: ObjectStore = Object.create(new FsStore(t.bucket));
      failing.read = async () =>
        Readable.from(
          (async function* () {
            for (let i = 1; i <= 11_000; i++) yield `${i},Dept ${i}\n`;
            throw new Error('connection reset by peer');
          })(),
        );
      const broken = await createTestApp(engine, { store: failing });
      try {
        const res = await broken.app.inject({
          method: 'POST',
          url: '/load_historic_data/departments',
          headers: auth,
        });
        expect(res.statusCode).toBe(500);
        expect(res.json().error.code).toBe('internal_error');
        expect(await countRows(broken, 'departments')).toBe(0);
        const run = await broken.ctx.engine.db
          .selectFrom('dataport_loads')
          .selectAll()
          .executeTakeFirstOrThrow();
        expect(run).toMatchObject({ table_name: 'departments', status: 'failed' });
      } finally {
        await broken.close();
      }
    });

    it('answers 404 source_not_found, unknown_table with the known tables, and 422 for an empty file', async () => {
      const missing = await load(t, 'jobs');
      expect(missing.statusCode).toBe(404);
      expect(missing.json().error).toMatchObject({ code: 'source_not_found' });
      expect(missing.json().error.message).toContain('database/jobs/historic/jobs.csv');
      const unknown = await load(t, 'salaries');
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().error).toMatchObject({
        code: 'unknown_table',
        known_tables: ['departments', 'jobs', 'hired_employees'],
      });
      for (const text of ['', '\n\n\r\n']) {
        await putHistoric(t, 'jobs', text);
        const empty = await load(t, 'jobs');
        expect(empty.statusCode).toBe(422);
        expect(empty.json().error.code).toBe('invalid_csv');
      }
    });

    it('refuses a second long operation on the same table with 409 table_busy', async () => {
      const lines = Array.from({ length: 30_000 }, (_, i) => `${i + 1},Dept ${i}`).join('\n');
      await putHistoric(t, 'departments', lines);
      const [a, b] = await Promise.all([load(t, 'departments'), load(t, 'departments')]);
      const codes = [a.statusCode, b.statusCode].sort();
      expect(codes).toEqual([200, 409]);
      expect((a.statusCode === 409 ? a : b).json().error.code).toBe('table_busy');
      expect(await countRows(t, 'departments')).toBe(30_000);
    });

    it('needs the bearer token', async () => {
      await putHistoric(t, 'jobs', '1,Analyst\n');
      expect((await load(t, 'jobs', {})).statusCode).toBe(401);
      expect((await load(t, 'jobs', { authorization: 'Bearer wrong' })).json().error.code).toBe(
        'unauthorized',
      );
      expect(await countRows(t, 'jobs')).toBe(0);
    });
  });
});
