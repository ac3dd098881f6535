import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql, type Kysely } from 'kysely';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { addColumnFor } from '../../src/db/ddl.js';
import { createMigrator, currentVersion, migrateToLatest } from '../../src/db/migrator.js';
import { fromDbRow, insertRows } from '../../src/db/rows.js';
import { createAvroDecoder, createAvroEncoder, readAvroHeader } from '../../src/modules/backups/avro.js';
import { pageRows } from '../../src/db/rows.js';
import { findOrphans } from '../../src/modules/backups/backups.repo.js';
import { backupTable } from '../../src/modules/backups/backups.service.js';
import { closeContext, openContext } from '../../src/open.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { AppError } from '../../src/errors.js';
import { Catalogue } from '../../src/tables/catalogue.js';
import { defaultCatalogue } from '../../src/tables/catalogue.js';
import type { TableDef } from '../../src/tables/types.js';

const demoCatalogue = defaultCatalogue();
import type { ObjectStore } from '../../src/storage/types.js';
import type { ColumnDef, Row } from '../../src/tables/types.js';
import { allRows, auth, countRows, createTestApp, TOKEN, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';

const backup = (t: TestApp, table: string, query = '') =>
  t.app.inject({ method: 'POST', url: `/backup_table/${table}${query}`, headers: auth });
const restore = (t: TestApp, table: string, query = '') =>
  t.app.inject({ method: 'POST', url: `/restore_backup/${table}${query}`, headers: auth });
const history = (t: TestApp, table: string) => t.app.inject({ method: 'GET', url: `/backups/${table}` });

const departments: Row[] = [
  { id: 1, department: 'Sales, "North" & O\'Brien' },
  { id: 2, department: 'Zoë 😀, "R&D"; 日本語,テスト' },
  { id: 3, department: 'Supply Chain' },
];
const jobs: Row[] = [
  { id: 1, job: 'Analyst' },
  { id: 2, job: 'Ingénieur, "senior"' },
];
const employees: Row[] = [
  { id: 1, name: 'Ana "Nina" Pérez, Jr.', datetime: '2021-11-07T02:48:42.123Z', department_id: 1, job_id: 1 },
  { id: 2, name: "D'Arcy 🚀", datetime: '2021-01-01T00:00:00.000Z', department_id: 2, job_id: 2 },
  { id: 5, name: '李小龍', datetime: '1999-12-31T23:59:59.999Z', department_id: 3, job_id: 1 },
];

async function put(t: TestApp, table: string, rows: Row[]) {
  await insertRows(t.ctx.engine.db, t.ctx.engine.caps, t.ctx.catalogue.get(table), rows);
}

async function seed(t: TestApp) {
  await put(t, 'departments', departments);
  await put(t, 'jobs', jobs);
  await put(t, 'hired_employees', employees);
}

/** The table's rows in the catalogue's shape (datetimes as ISO strings on every engine). */
async function rowsOf(t: TestApp, table: string): Promise<Row[]> {
  const def = t.ctx.catalogue.get(table);
  return (await allRows(t, table)).map((r) =>
    fromDbRow(def, t.ctx.engine.caps, r as Record<string, unknown>),
  );
}

async function fileOf(t: TestApp, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await t.store.read(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function putFile(t: TestApp, key: string, bytes: Buffer) {
  await t.store.write(key, Readable.from([bytes]));
}

/** A file made with the codec layer directly, so it can hold what the service would never write. */
async function handMade(t: TestApp, table: string, rows: Row[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const metadata = { rowCount: rows.length, createdAt: new Date(), schemaVersion: 'hand-made' };
  await pipeline(
    Readable.from(rows),
    createAvroEncoder(t.ctx.catalogue.get(table), { metadata }),
    async (s) => {
      for await (const c of s) chunks.push(c as Buffer);
    },
  );
  return Buffer.concat(chunks);
}

/**
 * The store, except that writing a key `failOn` names breaks after 100 bytes, like a dropped upload,
 * and copying to such a key fails.
 */
function failingStore(inner: ObjectStore, failOn: (key: string) => boolean): ObjectStore {
  return {
    url: inner.url,
    read: (key) => inner.read(key),
    stat: (key) => inner.stat(key),
    list: (prefix) => inner.list(prefix),
    delete: (key) => inner.delete(key),
    check: () => inner.check(),
    async copy(from, to, options) {
      if (failOn(to)) throw new AppError('storage_unavailable', 'copy dropped');
      return inner.copy(from, to, options);
    },
    async write(key, body, options) {
      if (!failOn(key)) return inner.write(key, body, options);
      async function* broken() {
        let n = 0;
        for await (const chunk of body) {
          yield chunk as Buffer;
          if ((n += (chunk as Buffer).length) > 100)
            throw new AppError('storage_unavailable', 'upload dropped');
        }
      }
      return inner.write(key, Readable.from(broken()), options);
    },
  };
}

describe.each(testEngines())('backups and restores on $name', (engine) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(engine);
  });
  afterEach(async () => t?.close());

  it('round-trips every table: values, unicode with quotes and commas, datetimes to the millisecond', async () => {
    await seed(t);
    const before = {
      departments: await rowsOf(t, 'departments'),
      jobs: await rowsOf(t, 'jobs'),
      hired_employees: await rowsOf(t, 'hired_employees'),
    };
    expect(before.hired_employees).toEqual(employees);
    for (const table of ['departments', 'jobs', 'hired_employees']) {
      const res = await backup(t, table);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({ table, key: `database/${table}/backup/${table}.avro`, codec: 'deflate' });
      expect(body.rows).toBe(before[table as keyof typeof before].length);
      expect(body.history_key).toMatch(
        new RegExp(`^database/${table}/backup/${table}-\\d{8}T\\d{9}Z\\.avro$`),
      );
      expect(body.history_key.slice(-24, -5)).toBe(body.created_at.replace(/[-:.]/g, ''));
      const file = await fileOf(t, body.key);
      expect(body.bytes).toBe(file.length);
      expect(body.sha256).toBe(createHash('sha256').update(file).digest('hex'));
      expect((await fileOf(t, body.history_key)).equals(file)).toBe(true);
    }

    // Change every table, then put them back (children first, so no step breaks a reference).
    await t.ctx.engine.db.updateTable('departments').set({ department: 'renamed' }).execute();
    await put(t, 'departments', [{ id: 9, department: 'New' }]);
    await put(t, 'jobs', [{ id: 7, job: 'New job' }]);
    await t.ctx.engine.db.deleteFrom('hired_employees').where('id', '=', 2).execute();
    await put(t, 'hired_employees', [
      { id: 10, name: 'new', datetime: '2022-02-02T02:02:02.002Z', department_id: 9, job_id: 7 },
    ]);
    for (const table of ['hired_employees', 'departments', 'jobs'] as const) {
      const res = await restore(t, table);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ table, key: `database/${table}/backup/${table}.avro` });
      expect(res.json().rows_restored).toBe(before[table].length);
      expect(await rowsOf(t, table)).toEqual(before[table]);
    }
  });

  it('backs up an empty table to a valid file with zero records, and restores it', async () => {
    const res = await backup(t, 'jobs');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().rows).toBe(0);
    const header = await readAvroHeader(await t.store.read(res.json().key));
    expect(header['dataport.row_count']).toBe('0');
    await put(t, 'jobs', jobs);
    const restored = await restore(t, 'jobs');
    expect(restored.statusCode, restored.body).toBe(200);
    expect(restored.json().rows_restored).toBe(0);
    expect(await countRows(t, 'jobs')).toBe(0);
  });

  it('keeps a history, lists it newest first from the headers, and restores an older one by key', async () => {
    await put(t, 'jobs', jobs);
    const first = (await backup(t, 'jobs')).json();
    await put(t, 'jobs', [{ id: 3, job: 'Third' }]);
    const second = (await backup(t, 'jobs', '?codec=null')).json();
    expect(second.history_key).not.toBe(first.history_key);

    const res = await history(t, 'jobs');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      table: 'jobs',
      backups: [
        { key: second.history_key, rows: 3, bytes: second.bytes, created_at: second.created_at },
        { key: first.history_key, rows: 2, bytes: first.bytes, created_at: first.created_at },
      ],
    });
    expect((await history(t, 'departments')).json()).toEqual({ table: 'departments', backups: [] });
    // A file whose header cannot be read is still listed, with its time from the key.
    await putFile(t, 'database/departments/backup/departments-20200102T030405006Z.avro', Buffer.from('junk'));
    await putFile(t, 'database/departments/backup/notes.txt', Buffer.from('not a backup'));
    expect((await history(t, 'departments')).json().backups).toEqual([
      {
        key: 'database/departments/backup/departments-20200102T030405006Z.avro',
        rows: null,
        bytes: 4,
        created_at: '2020-01-02T03:04:05.006Z',
      },
    ]);

    const older = await restore(t, 'jobs', `?key=${encodeURIComponent(first.history_key)}`);
    expect(older.statusCode, older.body).toBe(200);
    expect(older.json()).toMatchObject({ key: first.history_key, rows_restored: 2 });
    expect(await rowsOf(t, 'jobs')).toEqual(jobs);
    expect((await restore(t, 'jobs')).json().rows_restored).toBe(3);
  });

  it('writes the codec asked for, and refuses an unknown one', async () => {
    await put(t, 'jobs', jobs);
    for (const codec of ['null', 'snappy', 'deflate']) {
      const res = await backup(t, 'jobs', `?codec=${codec}`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().codec).toBe(codec);
      const header = await readAvroHeader(await t.store.read(res.json().key));
      expect(header['avro.codec']).toBe(codec);
      await t.ctx.engine.db.deleteFrom('jobs').execute();
      expect((await restore(t, 'jobs')).statusCode).toBe(200);
      expect(await rowsOf(t, 'jobs')).toEqual(jobs);
    }
    const bad = await backup(t, 'jobs', '?codec=lz4');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('invalid_request');
  });

  it('writes files that the Apache Avro Python reader reads', async () => {
    await seed(t);
    const res = await backup(t, 'hired_employees', '?codec=snappy');
    expect(res.statusCode, res.body).toBe(200);
    const script = `
import sys, json, datetime, avro.datafile, avro.io
with open(sys.argv[1], 'rb') as f:
    reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
    def iso(v):
        return v.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (v.microsecond // 1000)
    rows = [{k: iso(v) if isinstance(v, datetime.datetime) else v for k, v in r.items()} for r in reader]
    meta = {k: v.decode() for k, v in reader.meta.items() if k.startswith('dataport.')}
    print(json.dumps({'codec': reader.codec, 'meta': meta, 'rows': rows}))
`;
    const file = path.join(t.bucket, ...res.json().key.split('/'));
    // No skip: a missing python3-avro must fail CI, not hide this test.
    const out = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, file], { encoding: 'utf8' }));
    expect(out.codec).toBe('snappy');
    expect(out.meta).toEqual({
      'dataport.table': 'hired_employees',
      'dataport.row_count': '3',
      'dataport.created_at': res.json().created_at,
      'dataport.schema_version': await currentVersion(t.ctx.migrator),
    });
    expect(out.rows).toEqual(employees);
  });

  it('refuses corrupt, truncated, empty and foreign files with 422 and leaves the table untouched', async () => {
    await put(t, 'departments', departments);
    await put(
      t,
      'jobs',
      Array.from({ length: 3000 }, (_, i) => ({ id: i + 1, job: `job ${i + 1} ${'x'.repeat(i % 50)}` })),
    );
    const good = (await backup(t, 'jobs', '?codec=null')).json();
    expect((await backup(t, 'departments')).statusCode).toBe(200);
    await t.ctx.engine.db.deleteFrom('jobs').where('id', '>', 2).execute();
    const before = await rowsOf(t, 'jobs');
    const file = await fileOf(t, good.key);
    const badSync = Buffer.from(file);
    badSync.fill(0, badSync.length - 16);
    const cases: [string, Buffer, RegExp][] = [
      ['corrupt', badSync, /sync marker/],
      ['truncated', file.subarray(0, Math.floor(file.length * 0.6)), /truncated/],
      ['empty', Buffer.alloc(0), /not an Avro file/],
      ['not avro', Buffer.from('id,job\n1,Analyst\n'), /not an Avro file/],
      ['foreign', await fileOf(t, 'database/departments/backup/departments.avro'), /departments/],
    ];
    for (const [name, bytes, why] of cases) {
      await putFile(t, good.key, bytes);
      const res = await restore(t, 'jobs');
      expect(res.statusCode, `${name}: ${res.body}`).toBe(422);
      expect(res.json().error.code).toBe('invalid_backup');
      expect(res.json().error.message).toMatch(why);
      expect(res.json().error.message).toContain(good.key);
      expect(await rowsOf(t, 'jobs'), name).toEqual(before);
    }
  });

  it('leaves the previous files untouched when a backup fails part-way', async () => {
    await put(
      t,
      'jobs',
      Array.from({ length: 2000 }, (_, i) => ({ id: i + 1, job: `job ${i}` })),
    );
    const first = (await backup(t, 'jobs')).json();
    const latest = await fileOf(t, first.key);
    await put(t, 'jobs', [{ id: 5000, job: 'late' }]);
    const store = t.ctx.store;
    for (const failOn of [(k: string) => k !== first.key, (k: string) => k === first.key]) {
      t.ctx.store = failingStore(store, failOn);
      const res = await backup(t, 'jobs');
      t.ctx.store = store;
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json().error.code).toBe('storage_unavailable');
      expect((await fileOf(t, first.key)).equals(latest)).toBe(true);
      expect((await history(t, 'jobs')).json().backups.map((b: { key: string }) => b.key)).toEqual([
        first.history_key,
      ]);
    }
    expect((await backup(t, 'jobs')).json().rows).toBe(2001);
  });

  it('answers 404 without a backup and 400 for a key outside the table backup folder', async () => {
    const missing = await restore(t, 'jobs');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('backup_not_found');
    expect((await restore(t, 'nope')).json().error.code).toBe('unknown_table');
    for (const key of [
      'database/departments/backup/departments.avro',
      'database/jobs/backup/',
      'database/jobs/backup/../../departments/backup/departments.avro',
      'database/jobs/historic/jobs.csv',
    ]) {
      const res = await restore(t, 'jobs', `?key=${encodeURIComponent(key)}`);
      expect(res.statusCode, key).toBe(400);
      expect(res.json().error.code).toBe('invalid_key');
    }
  });

  it('refuses a restore that would break references, both ways, with 409 restore_conflict', async () => {
    await seed(t);
    // Employees naming department 3, then department 3 goes away: the old employees no longer fit.
    expect((await backup(t, 'hired_employees')).statusCode).toBe(200);
    await t.ctx.engine.db.deleteFrom('hired_employees').where('department_id', '=', 3).execute();
    await t.ctx.engine.db.deleteFrom('departments').where('id', '=', 3).execute();
    const employeesBefore = await rowsOf(t, 'hired_employees');
    const res = await restore(t, 'hired_employees');
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().error.code).toBe('restore_conflict');
    expect(res.json().error.message).toContain('hired_employees.department_id');
    expect(res.json().error.conflicts).toEqual([
      { table: 'hired_employees', column: 'department_id', references: 'departments', ids: [3], count: 1 },
    ]);
    expect(await rowsOf(t, 'hired_employees')).toEqual(employeesBefore);

    // Departments backed up without 25 departments that employees name later.
    expect((await backup(t, 'departments')).statusCode).toBe(200);
    const extra = Array.from({ length: 25 }, (_, i) => ({ id: 100 + i, department: `d${i}` }));
    await put(t, 'departments', extra);
    await put(
      t,
      'hired_employees',
      extra.map((d, i) => ({
        id: 1000 + i,
        name: 'x',
        datetime: '2021-01-01T00:00:00.000Z',
        department_id: d.id,
        job_id: 1,
      })),
    );
    const departmentsBefore = await rowsOf(t, 'departments');
    const conflict = await restore(t, 'departments');
    expect(conflict.statusCode, conflict.body).toBe(409);
    expect(conflict.json().error.code).toBe('restore_conflict');
    const [c] = conflict.json().error.conflicts;
    expect(c).toMatchObject({
      table: 'hired_employees',
      column: 'department_id',
      references: 'departments',
      count: 25,
    });
    expect(c.ids).toEqual(extra.slice(0, 20).map((d) => d.id));
    expect(conflict.json().error.message).toMatch(/100, 101, .*119, … \(25 in all\)/);
    expect(await rowsOf(t, 'departments')).toEqual(departmentsBefore);
  });

  it('refuses a file with a record that breaks a rule (422), logs it as a reject, and changes nothing', async () => {
    await put(t, 'jobs', jobs);
    const key = 'database/jobs/backup/jobs.avro';
    const cases: [Row[], string][] = [
      [
        [
          { id: 1, job: 'ok' },
          { id: 2, job: 'x'.repeat(101) },
          { id: 3, job: 'ok' },
        ],
        'too_long',
      ],
      [
        [
          { id: 1, job: 'ok' },
          { id: 1, job: 'again' },
        ],
        'duplicate_id',
      ],
      [
        [
          { id: 1, job: 'ok' },
          { id: -4, job: 'negative' },
        ],
        'invalid_integer',
      ],
    ];
    for (const [rows, reason] of cases) {
      await putFile(t, key, await handMade(t, 'jobs', rows));
      const res = await restore(t, 'jobs');
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json().error).toMatchObject({ code: 'invalid_backup', index: 1, reason });
      expect(res.json().error.message).toContain('record 1');
      expect(res.json().error.message).toContain(reason);
      expect(await rowsOf(t, 'jobs')).toEqual(jobs);
      const log = (await t.app.inject({ method: 'GET', url: '/rejects/jobs?limit=1' })).json();
      expect(log.rejects[0]).toMatchObject({ source: key, index: 1, reason });
      expect(JSON.parse(log.rejects[0].raw)).toEqual(rows[1]);
    }
  });

  it('finds orphans with one anti-join: smallest first, at most the limit, with the full count', async () => {
    const db = t.ctx.engine.db;
    await db.schema
      .createTable('orph_parent')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .execute();
    await db.schema
      .createTable('orph_child')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('parent_id', 'integer', (c) => c.notNull())
      .execute();
    await db
      .insertInto('orph_parent')
      .values([{ id: 1 }, { id: 2 }])
      .execute();
    const children = Array.from({ length: 30 }, (_, i) => ({
      id: i + 1,
      parent_id: i < 5 ? 1 : 100 + (i % 25),
    }));
    await db.insertInto('orph_child').values(children).execute();
    const def = (name: string, columns: string[]): TableDef => ({
      name,
      columns: columns.map((c) => ({ name: c, type: 'integer', nullable: false, csv_name: c })),
      primary_key: ['id'],
      unique: [],
      foreign_keys: [],
      source: `${name}.csv`,
      csv: { header: false, delimiter: ',', quote: '"', null_values: [''] },
    });
    const parent = def('orph_parent', ['id']);
    const child = def('orph_child', ['id', 'parent_id']);
    const caps = t.ctx.engine.caps;
    const same = (name: string) => name;
    expect(
      await findOrphans(db, caps, { child, columns: ['parent_id'], parent, parentColumns: ['id'] }, same, 20),
    ).toEqual({
      keys: Array.from({ length: 20 }, (_, i) => [100 + i]),
      count: 25,
    });
    expect(
      await findOrphans(
        db,
        caps,
        { child: parent, columns: ['id'], parent, parentColumns: ['id'] },
        same,
        20,
      ),
    ).toEqual({ keys: [], count: 0 });
  });

  it('reads pages by id across page boundaries, with gaps in the ids, in one snapshot', async () => {
    // 23 ids with gaps: pages of 5 end inside the table, and the last page is short.
    const ids = Array.from({ length: 23 }, (_, i) => 3 * i * i + 1);
    await put(
      t,
      'jobs',
      [...ids].reverse().map((id) => ({ id, job: `job ${id}` })),
    );
    const pagesOf = (size: number) =>
      t.ctx.engine.snapshot(async (db) => {
        const pages: number[][] = [];
        for await (const page of pageRows(db, t.ctx.engine.caps, t.ctx.catalogue.get('jobs'), size))
          pages.push(page.map((r) => Number(r.id)));
        return pages;
      });
    const pages = await pagesOf(5);
    expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5, 3]);
    expect(pages.flat()).toEqual(ids);
    // A table that fills its last page exactly ends without an empty page.
    expect((await pagesOf(23)).map((p) => p.length)).toEqual([23]);
    expect(await pagesOf(1000)).toEqual([ids]);
  });

  it('backs up a table of several pages and gapped ids row for row, datetimes to the millisecond', async () => {
    await put(t, 'departments', departments);
    await put(t, 'jobs', jobs);
    const n = 12_345;
    const base = Date.UTC(2021, 0, 1);
    const many: Row[] = Array.from({ length: n }, (_, i) => ({
      id: 3 * i + (i % 3) + 1,
      name: `person ${i}`,
      // Millis of every width (.000, .100, .120, .123): some drivers trim the trailing zeros.
      datetime: new Date(base + i * 86_400_013 + (i % 4 === 0 ? 0 : i % 4 === 1 ? 100 : 120)).toISOString(),
      department_id: (i % 3) + 1,
      job_id: (i % 2) + 1,
    }));
    for (let i = 0; i < n; i += 2000) await put(t, 'hired_employees', many.slice(i, i + 2000));
    const res = await backupTable(t.ctx, 'hired_employees', { codec: 'null' });
    expect(res.rows).toBe(n);
    const back: Row[] = [];
    await pipeline(
      await t.store.read(res.key),
      createAvroDecoder(t.ctx.catalogue.get('hired_employees')),
      async (source) => {
        for await (const row of source) back.push(row as Row);
      },
    );
    expect(back).toEqual(many);
    expect(back).toEqual(await rowsOf(t, 'hired_employees'));
  }, 60_000);

  it.runIf(engine.name === 'sqlite')(
    'refuses, as before, a stored datetime that is not UTC ISO text',
    async () => {
      await seed(t);
      await sql`UPDATE hired_employees SET datetime = '2021-11-07 02:48:42.123' WHERE id = 2`.execute(
        t.ctx.engine.db,
      );
      await expect(backupTable(t.ctx, 'hired_employees')).rejects.toMatchObject({
        code: 'internal_error',
        message: expect.stringMatching(/row 2 of hired_employees does not fit.*not a UTC ISO datetime/),
      });
    },
  );

  it('answers 409 table_busy while another heavy operation holds the table', async () => {
    await put(t, 'jobs', jobs);
    let release!: () => void;
    const holding = t.ctx.locks.run('jobs', 'historic load', () => new Promise<void>((r) => (release = r)));
    for (const res of [await backup(t, 'jobs'), await restore(t, 'jobs')]) {
      expect(res.statusCode).toBe(409);
      expect(res.json().error.code).toBe('table_busy');
    }
    release();
    await holding;
    expect((await backup(t, 'jobs')).statusCode).toBe(200);
  });

  it('backs up one snapshot: rows committed during the backup are all out', async () => {
    const table = t.ctx.catalogue.get('jobs');
    const n = 30_000;
    for (let i = 0; i < n; i += 5000) {
      await put(
        t,
        'jobs',
        Array.from({ length: 5000 }, (_, k) => ({ id: i + k + 1, job: `job ${i + k + 1}` })),
      );
    }
    let insert: Promise<void> | undefined;
    let insertedFirst = false;
    const result = await backupTable(t.ctx, 'jobs', {
      progress: () => {
        insert ??= insertRows(t.ctx.engine.db, t.ctx.engine.caps, table, [
          { id: n + 1, job: 'late' },
          { id: n + 2, job: 'late' },
        ]).then(() => {
          insertedFirst = true;
        });
      },
    }).then((r) => ({ ...r, insertedFirst }));
    await insert;
    expect(result.insertedFirst).toBe(true);
    expect(result.rows).toBe(n);
    expect(await countRows(t, 'jobs')).toBe(n + 2);
    expect((await restore(t, 'jobs')).json().rows_restored).toBe(n);
    expect(await countRows(t, 'jobs')).toBe(n);
  });

  it('restores a backup written before a later migration (schema evolution)', async () => {
    await put(t, 'jobs', jobs);
    const old = (await backup(t, 'jobs')).json();
    const level: ColumnDef = {
      name: 'level',
      type: 'string',
      max_length: 20,
      default: 'unknown',
      nullable: false,
      csv_name: 'level',
    };
    const evolved = new Catalogue(
      demoCatalogue.tables.map((tb) =>
        tb.name === 'jobs' ? { ...tb, columns: [...tb.columns, level] } : tb,
      ),
    );
    const extra = (caps: typeof t.ctx.engine.caps) => ({
      '2099-01-01T00-00-00_add_level': {
        up: (db: Kysely<any>) => addColumnFor(db, caps, 'jobs', level).execute(),
      },
    });
    await migrateToLatest(createMigrator(t.ctx.engine, evolved, extra(t.ctx.engine.caps)));

    const config = loadConfig({
      DATABASE_URL: t.config.databaseUrl,
      STORAGE_URL: `file:${t.bucket}`,
      API_TOKEN: TOKEN,
      LOG_LEVEL: 'silent',
      MIGRATE_ON_START: 'false',
    });
    const ctx = await openContext(config, {
      log: pino({ level: 'silent' }),
      catalogue: evolved,
      store: new FsStore(t.bucket),
    });
    ctx.migrator = createMigrator(ctx.engine, evolved, extra(ctx.engine.caps));
    const app = await buildApp(config, ctx);
    try {
      await ctx.engine.db.updateTable('jobs').set({ level: 'senior', job: 'changed' }).execute();
      const res = await app.inject({ method: 'POST', url: '/restore_backup/jobs', headers: auth });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ key: old.key, rows_restored: 2 });
      const rows = await ctx.engine.db.selectFrom('jobs').selectAll().orderBy('id').execute();
      expect(rows).toEqual(jobs.map((j) => ({ ...j, level: 'unknown' })));

      const fresh = await app.inject({ method: 'POST', url: '/backup_table/jobs', headers: auth });
      const header = await readAvroHeader(await t.store.read(fresh.json().key));
      expect(header['dataport.schema_version']).toBe('2099-01-01T00-00-00_add_level');
      expect(JSON.parse(header['avro.schema']).fields.map((f: { name: string }) => f.name)).toEqual([
        'id',
        'job',
        'level',
      ]);
    } finally {
      await app.close();
      await closeContext(ctx);
    }
  });
});
