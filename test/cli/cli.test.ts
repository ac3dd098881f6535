import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { cp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines, type TestEngine } from '../helpers/engines.js';

const BIN = path.resolve('bin/dataport.js');

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `dataport` binary in a child process; never rejects, answers the exit code. */
function dataport(env: Record<string, string>, ...args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const json = (r: Ran) => JSON.parse(r.stdout);

/** A fresh database on `engine` and a copy of ./storage as the bucket. */
async function workspace(engine: TestEngine) {
  const database = await engine.create();
  const dir = mkdtempSync(path.join(tmpdir(), 'dataport-cli-'));
  await cp(path.resolve('storage'), path.join(dir, 'bucket'), { recursive: true });
  const env = {
    DATABASE_URL: database.url,
    STORAGE_URL: `file:${path.join(dir, 'bucket')}`,
    LOG_LEVEL: 'silent',
  };
  return { env, dir, run: (...args: string[]) => dataport(env, ...args), drop: () => database.drop() };
}

for (const engine of testEngines()) {
  // Each run starts a Node process that compiles the sources with tsx (about a second): allow for it.
  describe(`dataport CLI on ${engine.name}`, { timeout: 120_000 }, () => {
    let w: Awaited<ReturnType<typeof workspace>>;
    /** The historic load of hired_employees, for the rejects test. */
    let hiredLoad: { load_id: string; rejected: number };
    const file = async (name: string, text: string) => {
      const p = path.join(w.dir, name);
      await writeFile(p, text);
      return p;
    };

    beforeAll(async () => {
      w = await workspace(engine);
    });
    afterAll(async () => w?.drop());

    it('migrates, and a second run has nothing to apply', async () => {
      const first = await w.run('migrate', '--json');
      expect(first.code, first.stderr).toBe(0);
      expect(json(first).applied).toContain('2026-11-29T00-00-00_tables');
      const second = await w.run('migrate');
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(/^nothing to apply; current: \S+/);
    });

    it("loads the bucket's historic files, logging progress as plain lines off a terminal", async () => {
      for (const table of ['departments', 'jobs', 'hired_employees']) {
        const r = await w.run('load', table, '--json');
        expect(r.code, r.stderr).toBe(0);
        const result = json(r);
        expect(result).toMatchObject({ table, source: `database/${table}/historic/${table}.csv` });
        expect(result.loaded).toBeGreaterThan(0);
        expect(result.loaded + result.rejected).toBe(result.rows_read);
        expect(r.stderr).toMatch(
          new RegExp(`^load ${table}: ${result.rows_read} rows, \\d+ rows/s, [0-9.]+ s\\n$`),
        );
        if (table === 'hired_employees') hiredLoad = result;
      }
    });

    it('lists the rejects of a load, filtered and limited', async () => {
      const load = hiredLoad;
      expect(load.rejected).toBeGreaterThan(1);
      const all = await w.run('rejects', 'hired_employees', '--load-id', load.load_id, '--json');
      expect(all.code, all.stderr).toBe(0);
      expect(json(all).total).toBe(load.rejected);
      expect(json(all).rejects.every((r: { load_id: string }) => r.load_id === load.load_id)).toBe(true);
      const one = json(
        await w.run('rejects', 'hired_employees', '--load-id', load.load_id, '--limit', '1', '--json'),
      );
      expect(one.rejects).toHaveLength(1);
      expect(one.total).toBe(load.rejected);
      const text = await w.run('rejects', 'hired_employees', '--limit', '1');
      expect(text.stdout).toMatch(/^hired_employees: \d+ rejects \(showing 1, newest first\)\n/);
    });

    it('loads a local CSV file with --file', async () => {
      const csv = await file('more-jobs.csv', '5001,Cartographer\n5002,\n5003,Lamplighter\n');
      const r = await w.run('load', 'jobs', '--file', csv, '--json');
      expect(r.code, r.stderr).toBe(0);
      expect(json(r)).toMatchObject({
        table: 'jobs',
        source: `file:${csv}`,
        rows_read: 3,
        loaded: 2,
        rejected: 1,
      });
      const missing = await w.run('load', 'jobs', '--file', path.join(w.dir, 'nope.csv'));
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe(
        `dataport: source_not_found: no such file: ${path.join(w.dir, 'nope.csv')}\n`,
      );
    });

    it('inserts rows from a JSON file and from a CSV file', async () => {
      const rows = await file('rows.json', JSON.stringify([{ id: 6001, job: 'Tinker' }, { id: 6002 }]));
      const fromJson = await w.run('insert', 'jobs', '--file', rows, '--json');
      expect(fromJson.code, fromJson.stderr).toBe(0);
      expect(json(fromJson)).toMatchObject({ table: 'jobs', received: 2, inserted: 1, rejected: 1 });
      expect(json(fromJson).rejects[0]).toMatchObject({ index: 1, column: 'job', reason: 'missing_value' });

      const csv = await file('rows.csv', '6003,Tailor\n6004,Soldier\n');
      const fromCsv = await w.run('insert', 'jobs', '--file', csv);
      expect(fromCsv.code, fromCsv.stderr).toBe(0);
      expect(fromCsv.stdout).toMatch(
        /^jobs: 2 rows received, 2 inserted, 0 rejected \(load [0-9a-f-]{36}\)\n$/,
      );

      const atomic = await w.run('insert', 'jobs', '--file', rows, '--atomic', '--json');
      expect(atomic.code).toBe(1);
      expect(atomic.stderr).toMatch(/^dataport: validation_failed: 2 of 2 rows break the data rules/);
      expect(json(atomic).error.code).toBe('validation_failed');

      const bad = await w.run('insert', 'jobs', '--file', await file('bad.json', '{"id": 1,'));
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^dataport: invalid_json: /);
    });

    it('backs a table up and restores it', async () => {
      const backup = await w.run('backup', 'jobs', '--codec', 'null', '--json');
      expect(backup.code, backup.stderr).toBe(0);
      expect(json(backup)).toMatchObject({
        table: 'jobs',
        codec: 'null',
        key: 'database/jobs/backup/jobs.avro',
      });
      const restore = await w.run('restore', 'jobs', '--json');
      expect(restore.code, restore.stderr).toBe(0);
      expect(json(restore)).toMatchObject({ table: 'jobs', rows_restored: json(backup).rows });
      const missing = await w.run('restore', 'jobs', '--key', 'database/jobs/backup/none.avro');
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^dataport: backup_not_found: /);
    });

    it('answers usage mistakes with exit code 2 and the code in the message', async () => {
      const cases: [string[], RegExp][] = [
        [['frobnicate'], /^dataport: usage: unknown command 'frobnicate'/],
        [['load', 'jobs', '--bogus'], /^dataport: usage: unknown option '--bogus'/],
        [['load'], /^dataport: usage: missing required argument 'table'/],
        [['insert', 'jobs'], /^dataport: usage: required option '--file <path>' not specified/],
        [['insert', 'jobs', '--file', 'rows.txt'], /^dataport: usage: cannot tell the format of 'rows.txt'/],
        [['metrics', 'hired-by-quarter'], /^dataport: usage: required option '--year <year>' not specified/],
        [
          ['metrics', 'hired-by-quarter', '--year', 'abc'],
          /^dataport: invalid_year: year must be a whole number from 1900 to 2100, got 'abc'\n$/,
        ],
        [['metrics', 'departments-above-mean', '--year', '2101'], /^dataport: invalid_year: /],
        [['metrics', 'departments-above-mean', '--year', '2021.5'], /^dataport: invalid_year: /],
        [
          ['rejects', 'jobs', '--limit', '0'],
          /^dataport: usage: option '--limit <n>' argument '0' is invalid/,
        ],
        [
          ['backup', 'jobs', '--codec', 'zip'],
          /^dataport: usage: option '--codec <codec>' argument 'zip' is invalid/,
        ],
        [
          ['load', 'nope'],
          /^dataport: unknown_table: unknown table 'nope'; known tables: departments, jobs, hired_employees\n$/,
        ],
      ];
      const results = await Promise.all(cases.map(([args]) => w.run(...args)));
      results.forEach((r, i) => {
        expect(r.code, cases[i][0].join(' ')).toBe(2);
        expect(r.stderr).toMatch(cases[i][1]);
        expect(r.stdout).toBe('');
      });
      const config = await dataport({ ...w.env, DATABASE_URL: 'oracle://x' }, 'migrate');
      expect(config.code).toBe(2);
      expect(config.stderr).toMatch(/^dataport: invalid configuration:\n {2}- DATABASE_URL must start with/);
    });

    it('prints help and the version with exit code 0', async () => {
      const [help, version] = await Promise.all([w.run('--help'), w.run('--version')]);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/Usage: dataport/);
      expect(version).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    });
  });

  describe(`dataport metrics on ${engine.name}`, { timeout: 120_000 }, () => {
    let w: Awaited<ReturnType<typeof workspace>>;
    beforeAll(async () => {
      w = await workspace(engine);
      const fixture: Record<string, unknown[]> = {
        departments: [
          { id: 1, department: 'accounting' },
          { id: 2, department: 'Accounting' },
          { id: 3, department: 'Zeta' },
          { id: 4, department: 'Idle' },
        ],
        jobs: [
          { id: 1, job: 'engineer' },
          { id: 2, job: 'Analyst' },
        ],
        hired_employees: [
          { id: 1, name: 'A', datetime: '2021-02-01T00:00:00Z', department_id: 3, job_id: 1 },
          { id: 2, name: 'B', datetime: '2021-12-31T23:59:59.999Z', department_id: 3, job_id: 1 },
          { id: 3, name: 'C', datetime: '2022-01-01T00:00:00.000Z', department_id: 3, job_id: 1 },
          { id: 4, name: 'D', datetime: '2021-07-01T00:30:00+01:00', department_id: 1, job_id: 2 },
          { id: 5, name: 'E', datetime: '2021-05-01T00:00:00Z', department_id: 2, job_id: 2 },
          { id: 6, name: 'F', datetime: '2021-05-02T00:00:00Z', department_id: 1, job_id: 2 },
        ],
      };
      for (const [table, rows] of Object.entries(fixture)) {
        const p = path.join(w.dir, `${table}.json`);
        await writeFile(p, JSON.stringify(rows));
        const r = await w.run('insert', table, '--file', p, '--atomic');
        expect(r.code, r.stderr).toBe(0);
      }
    });
    afterAll(async () => w?.drop());

    it('prints hires by quarter as JSON, text and CSV', async () => {
      const expected = {
        year: 2021,
        rows: [
          { department: 'Accounting', job: 'Analyst', Q1: 0, Q2: 1, Q3: 0, Q4: 0 },
          { department: 'accounting', job: 'Analyst', Q1: 0, Q2: 2, Q3: 0, Q4: 0 },
          { department: 'Zeta', job: 'engineer', Q1: 1, Q2: 0, Q3: 0, Q4: 1 },
        ],
      };
      const [asJson, asText, asCsv] = await Promise.all([
        w.run('metrics', 'hired-by-quarter', '--year', '2021', '--json'),
        w.run('metrics', 'hired-by-quarter', '--year', '2021'),
        w.run('metrics', 'hired-by-quarter', '--year', '2021', '--csv'),
      ]);
      expect(asJson.code, asJson.stderr).toBe(0);
      expect(json(asJson)).toEqual(expected);
      expect(asText.stdout.split('\n')[0]).toMatch(/^department +job +Q1 +Q2 +Q3 +Q4$/);
      expect(asText.stdout.split('\n')[2]).toMatch(/^Accounting +Analyst +0 +1 +0 +0$/);
      expect(asCsv.stdout).toBe(
        'department,job,Q1,Q2,Q3,Q4\nAccounting,Analyst,0,1,0,0\naccounting,Analyst,0,2,0,0\nZeta,engineer,1,0,0,1\n',
      );
    });

    it('prints departments above the mean', async () => {
      // 2021: 2 + 1 + 2 + 0 = 5 hires over 4 departments, mean 1.25; ties by id.
      const r = await w.run('metrics', 'departments-above-mean', '--year', '2021', '--json');
      expect(r.code, r.stderr).toBe(0);
      expect(json(r)).toEqual({
        year: 2021,
        mean: 1.25,
        rows: [
          { id: 1, department: 'accounting', hired: 2 },
          { id: 3, department: 'Zeta', hired: 2 },
        ],
      });
      const empty = await w.run('metrics', 'departments-above-mean', '--year', '1999');
      expect(empty).toMatchObject({
        code: 0,
        stdout: 'mean hires per department in 1999: 0\nno department hired more than the mean\n',
      });
    });
  });
}
