import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/engine.js';
import { createEngine } from '../../src/db/index.js';
import { classifyMysql } from '../../src/db/mysql.js';
import { classifyPostgres } from '../../src/db/postgres.js';
import { fromDbRow, insertRows } from '../../src/db/rows.js';
import { parseServerUrl } from '../../src/db/url.js';
import { defaultCatalogue } from '../../src/tables/catalogue.js';
import type { Row } from '../../src/tables/types.js';
import { openMigrated, testEngines } from '../helpers/engines.js';

const catalogue = defaultCatalogue();
const departments = catalogue.get('departments');
const hired = catalogue.get('hired_employees');

describe('DATABASE_URL', () => {
  it('reads each server scheme, with defaults', () => {
    expect(parseServerUrl('mysql://app:pw@db.example:3307/dataport')).toMatchObject({
      kind: 'mysql',
      host: 'db.example',
      port: 3307,
      user: 'app',
      password: 'pw',
      database: 'dataport',
      ssl: 'disable',
    });
    expect(parseServerUrl('mariadb://app@db/dataport')).toMatchObject({
      kind: 'mysql',
      port: 3306,
      password: undefined,
    });
    expect(parseServerUrl('postgres://u:p@h/d')).toMatchObject({
      kind: 'postgres',
      port: 5432,
      user: 'u',
      database: 'd',
    });
    expect(parseServerUrl('postgresql://u@[::1]:6543/d')).toMatchObject({
      kind: 'postgres',
      host: '::1',
      port: 6543,
    });
    expect(parseServerUrl('postgres://u:p%40ss%2Fw@h/d%20b').password).toBe('p@ss/w');
  });

  it('reads ssl options', () => {
    expect(parseServerUrl('mysql://u@h/d?ssl=true').ssl).toBe('verify');
    expect(parseServerUrl('mysql://u@h/d?ssl=require').ssl).toBe('require');
    expect(parseServerUrl('mysql://u@h/d?ssl=false').ssl).toBe('disable');
    expect(parseServerUrl('postgres://u@h/d?sslmode=verify-full').ssl).toBe('verify');
    expect(parseServerUrl('postgres://u@h/d?sslrootcert=/etc/ca.pem')).toMatchObject({
      ssl: 'verify',
      sslCaFile: '/etc/ca.pem',
    });
    expect(() => parseServerUrl('mysql://u@h/d?ssl=maybe')).toThrow(/ssl=maybe/);
    expect(() => parseServerUrl('mysql://u@h/d?pool=5')).toThrow(/option 'pool'/);
  });

  it('never shows the password', async () => {
    const secret = 's3cr3t-Pa55';
    expect(parseServerUrl(`mysql://app:${secret}@h:3306/d`).redacted).toBe('mysql://app:***@h:3306/d');
    const problems = [
      `mysql://app:${secret}@h/`, // no database
      `postgres://app:${secret}@h/d?ssl=odd`,
      `mysql://app:${secret}@h:99999/d`, // not a valid URL
      `oracle://app:${secret}@h/d`,
    ];
    for (const url of problems) {
      const err = await createEngine(url).then(
        () => null,
        (e: Error) => e,
      );
      expect(err, url).toBeInstanceOf(Error);
      expect(JSON.stringify({ message: err!.message, ...err })).not.toContain(secret);
    }
    // Unreachable on purpose: the description is built without connecting.
    for (const url of [`mysql://app:${secret}@127.0.0.1:1/d`, `postgres://app:${secret}@127.0.0.1:1/d`]) {
      const engine = await createEngine(url);
      expect(engine.description).not.toContain(secret);
      const err = await sql`select 1`.execute(engine.db).then(
        () => null,
        (e: Error) => e,
      );
      expect(engine.classify(err)).toBe('unavailable');
      expect(String(err?.message)).not.toContain(secret);
      await engine.close();
    }
  });
});

describe('classify', () => {
  it.each([
    [{ code: 'ECONNREFUSED' }, 'unavailable', 'unavailable'],
    [{ code: 'PROTOCOL_CONNECTION_LOST', fatal: true }, 'unavailable', null],
    [{ code: 'ER_CON_COUNT_ERROR', errno: 1040 }, 'unavailable', null],
    [{ code: 'ER_LOCK_WAIT_TIMEOUT', errno: 1205 }, 'busy', null],
    [{ code: 'ER_LOCK_DEADLOCK', errno: 1213 }, 'deadlock', null],
    [{ code: 'ER_DUP_ENTRY', errno: 1062 }, 'unique_violation', null],
    [{ code: '57P01' }, null, 'unavailable'],
    [{ code: '08006' }, null, 'unavailable'],
    [new Error('Connection terminated unexpectedly'), null, 'unavailable'],
    [{ code: '40001' }, null, 'deadlock'],
    [{ code: '40P01' }, null, 'deadlock'],
    [{ code: '55P03' }, null, 'busy'],
    [{ code: '23505' }, null, 'unique_violation'],
    [{ code: '23503' }, null, null],
    [new Error('wrapped', { cause: { code: '23505' } }), null, 'unique_violation'],
    [new Error('plain'), null, null],
  ])('%o -> mysql %s, postgres %s', (err, mysql, postgres) => {
    expect(classifyMysql(err)).toBe(mysql);
    expect(classifyPostgres(err)).toBe(postgres);
  });
});

const SPECIAL = [
  'tab\there',
  'new\nline',
  'cr\r\nlf',
  'back\\slash\\',
  '\\N',
  'quote "double" \'single\'',
  'comma, comma',
  'Zoë 😀 日本語',
  '',
  ' ',
  '\\t literal',
  '"',
  ',',
];

function person(i: number, version = 0): Row {
  return {
    id: i,
    name: `${SPECIAL[i % SPECIAL.length]} #${i}.${version}`,
    datetime: new Date(Date.UTC(2021, 0, 1) + i * 1_234_567 + version).toISOString(),
    department_id: 1 + (i % 12),
    job_id: 1 + (i % 5),
  };
}

describe.each(testEngines())('$name engine', (testEngine) => {
  let engine: Engine;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ engine, close } = await openMigrated(testEngine, catalogue));
    await insertRows(
      engine.db,
      engine.caps,
      departments,
      Array.from({ length: 12 }, (_, i) => ({ id: i + 1, department: `Dept ${i + 1}` })),
    );
    await insertRows(
      engine.db,
      engine.caps,
      catalogue.get('jobs'),
      Array.from({ length: 5 }, (_, i) => ({ id: i + 1, job: `Job ${i + 1}` })),
    );
  });
  afterAll(async () => {
    await close?.();
  });

  const all = async (table = hired) =>
    (await engine.db.selectFrom(table.name).selectAll().orderBy('id').execute()).map((r) =>
      fromDbRow(table, engine.caps, r),
    );
  const count = async (table: string) => {
    const [{ n }] = await engine.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll().as('n'))
      .execute();
    // COUNT(*) comes back exact: a number (SQLite) or int8/BIGINT text (PostgreSQL, MariaDB).
    expect(String(n)).toMatch(/^[0-9]+$/);
    return Number(n);
  };
  const stagingTables = async () => {
    if (engine.kind === 'sqlite') return [];
    const rows = await engine.db
      .selectFrom('information_schema.tables')
      .select('table_name as name')
      .where('table_name', 'like', 'dataport\\_stage\\_%')
      .where(
        'table_schema',
        '=',
        engine.kind === 'mysql' ? sql<string>`database()` : sql<string>`current_schema()`,
      )
      .execute();
    return rows.map((r) => r.name);
  };

  it('keeps datetimes to the millisecond, in UTC', async () => {
    const times = [
      '2021-01-01T00:00:00.000Z',
      '2021-07-15T23:59:59.999Z',
      '1999-12-31T12:34:56.789Z',
      '2024-02-29T00:00:00.120Z',
      '1000-01-01T00:00:00.001Z',
    ];
    const rows = times.map((t, i) => ({ ...person(900_000 + i), datetime: t }));
    await insertRows(engine.db, engine.caps, hired, rows);
    const back = (await all()).filter((r) => (r.id as number) >= 900_000);
    expect(back.map((r) => r.datetime)).toEqual(times);
    // The driver's own values, read raw, give the same instants as epoch millis (a backup's path).
    const raw = await engine.db
      .selectFrom('hired_employees')
      .select(['id', 'datetime'])
      .where('id', '>=', 900_000)
      .orderBy('id')
      .execute();
    expect(raw.map((r) => engine.caps.datetimeMillis(r.datetime))).toEqual(times.map((t) => Date.parse(t)));
    expect(engine.caps.datetimeMillis('2021-02-30 00:00:00.000')).toBeUndefined();
    expect(engine.caps.datetimeMillis('not a time')).toBeUndefined();
    // Comparisons happen in the database, in UTC: the noon-of-new-year row sorts where it should.
    const later = await engine.db
      .selectFrom('hired_employees')
      .select('id')
      .where('datetime', '>=', engine.caps.encodeDatetime('2021-07-15T23:59:59.999Z') as string)
      .where('id', '>=', 900_000)
      .execute();
    expect(later.map((r) => Number(r.id)).sort()).toEqual([900_001, 900_003]);
    const [{ n }] = await engine.db
      .selectFrom('hired_employees')
      .select((eb) => eb.fn.countAll().as('n'))
      .execute();
    expect(String(n)).toMatch(/^[0-9]+$/);
    await engine.db.deleteFrom('hired_employees').where('id', '>=', 900_000).execute();
  });

  it('upserts 20k rows with awkward text through the bulk path', async () => {
    // A few rows exist already: the load must update them, not fail.
    await insertRows(engine.db, engine.caps, hired, [person(1, 7), person(2, 7), person(19_999, 7)]);
    const rows = Array.from({ length: 20_000 }, (_, i) => person(i));
    const written = await engine.bulkJob(async (job) => {
      // A read before the first write, as the row gate does: the merge must still see staged rows.
      expect(
        await job.db.selectFrom('hired_employees').select('id').where('id', '=', 19_999).execute(),
      ).toHaveLength(1);
      const writer = await job.writer(hired, 'upsert');
      for (let i = 0; i < rows.length; i += 5000) await writer.write(rows.slice(i, i + 5000));
      // The job's own connection stays usable while rows stream in.
      expect(
        Number((await job.db.selectFrom('departments').select('id').where('id', '=', 3).execute())[0].id),
      ).toBe(3);
      return writer.finish();
    });
    expect(written).toBe(20_000);
    expect(await all()).toEqual(rows);
    expect(await stagingTables()).toEqual([]);
  });

  const replace = (rows: Row[]) =>
    engine.bulkJob(async (job) => {
      const writer = await job.writer(departments, 'replace');
      await writer.write(rows);
      return writer.finish();
    });

  it('replaces a parent table in one step, foreign keys intact', async () => {
    // Children reference departments 1..12; the new contents keep those ids, rename them, add 2000 more.
    const next = Array.from({ length: 2012 }, (_, i) => ({
      id: i + 1,
      department: `Renamed\t${i + 1}\\ "x"`,
    }));
    await engine.bulkJob(async (job) => {
      const writer = await job.writer(departments, 'replace');
      await writer.write(next.slice(0, 1000));
      await writer.write(next.slice(1000));
      return writer.finish();
    });
    expect(await all(departments)).toEqual(next);
    // Small replace (the statement path), which drops the 2000 unreferenced rows again.
    const small = next.slice(0, 12).map((d) => ({ ...d, department: `Dept ${d.id}` }));
    await replace(small);
    expect(await all(departments)).toEqual(small);
    expect(await count('hired_employees')).toBe(20_000);
    // The children's foreign keys still point at departments (not at a renamed old table).
    const bad = await insertRows(engine.db, engine.caps, hired, [
      { ...person(50_000), department_id: 1500 },
    ]).then(
      () => null,
      (e) => e,
    );
    expect(bad).toBeInstanceOf(Error);
    // A replace that would break a reference: where foreign keys can be deferred, it fails and changes
    // nothing; MySQL/MariaDB switch the checks off for the swap and trust the caller's proof.
    const broken = await replace(small.slice(1)).then(
      () => null,
      (e) => e,
    );
    if (engine.caps.deferrableForeignKeys) expect(broken).toBeInstanceOf(Error);
    else expect(await replace(small)).toBe(12);
    expect(await all(departments)).toEqual(small);
  });

  it('switches foreign key checks back on before a connection returns to the pool, even on error', async () => {
    // MariaDB/MySQL replace a referenced table with the checks off (the test above). A job that fails
    // between switching them off and on must not hand a session without them to the next user.
    if (engine.kind !== 'mysql') return;
    const before = await all(departments);
    const err = await engine
      .bulkJob(async (job) => {
        const writer = await job.writer(departments, 'replace');
        // Enough rows for the streamed path, which switches the checks off at its start.
        await writer.write(Array.from({ length: 3000 }, (_, i) => ({ id: i + 1, department: `D ${i + 1}` })));
        throw new Error('boom mid-replace');
      })
      .catch((e: Error) => e);
    expect(err?.message).toBe('boom mid-replace');
    expect(await all(departments)).toEqual(before);
    // Ten queries at once hold all ten of the pool's connections, the job's among them.
    const checks = await Promise.all(
      Array.from({ length: 10 }, () =>
        sql<{ on: number }>`SELECT @@SESSION.foreign_key_checks AS "on", SLEEP(0.05) AS s`.execute(engine.db),
      ),
    );
    expect(checks.map((r) => Number(r.rows[0].on))).toEqual(Array(10).fill(1));
  });

  it('replaces a table no key references atomically, its definition unchanged', async () => {
    // On MariaDB/MySQL and PostgreSQL this is the table swap (src/db/mysql-swap.ts, postgres-swap.ts):
    // the rows go to a staging table that takes the table's place, with its indexes and keys.
    const definition = async () => {
      const query =
        engine.kind === 'mysql'
          ? sql<Record<string, string>>`SHOW CREATE TABLE hired_employees`
          : engine.kind === 'postgres'
            ? sql<Record<string, string>>`SELECT indexname AS name, indexdef AS def FROM pg_indexes
                WHERE tablename = 'hired_employees' UNION ALL
                SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                WHERE conrelid = 'hired_employees'::regclass ORDER BY 1, 2`
            : sql<Record<string, string>>`SELECT name, sql FROM sqlite_master
                WHERE tbl_name = 'hired_employees' ORDER BY name`;
      return JSON.stringify((await query.execute(engine.db)).rows);
    };
    const shape = await definition();
    const before = await all();
    const next = Array.from({ length: 3000 }, (_, i) => person(100_000 + i, 9));
    const written = await engine.bulkJob(async (job) => {
      const writer = await job.writer(hired, 'replace');
      await writer.write(next.slice(0, 2000));
      await writer.write(next.slice(2000));
      // A reader outside the job still sees the old rows while they load (PostgreSQL's swap then locks
      // the table from finish() to the commit; MariaDB's happens after the commit).
      expect(await count('hired_employees')).toBe(before.length);
      const n = await writer.finish();
      if (engine.kind === 'mysql') {
        expect(writer.holder()).toMatch(/^dataport_stage_/);
        expect(await count('hired_employees')).toBe(before.length);
      }
      return n;
    });
    expect(written).toBe(3000);
    expect(await all()).toEqual(next);
    expect(await definition()).toBe(shape);
    expect(await stagingTables()).toEqual([]);
    // The foreign keys still hold after the swap.
    const orphan = await insertRows(engine.db, engine.caps, hired, [
      { ...person(200_000), department_id: 1500 },
    ]).then(
      () => null,
      (e) => e,
    );
    expect(orphan).toBeInstanceOf(Error);
    // A replace that fails after its rows are in changes nothing.
    const err = await engine
      .bulkJob(async (job) => {
        const writer = await job.writer(hired, 'replace');
        await writer.write(before.slice(0, 2500));
        await writer.finish();
        throw new Error('boom');
      })
      .then(
        () => null,
        (e: Error) => e,
      );
    expect(err?.message).toBe('boom');
    expect(await all()).toEqual(next);
    expect(await definition()).toBe(shape);
    expect(await stagingTables()).toEqual([]);
    // Put back what the next tests expect.
    await engine.bulkJob(async (job) => {
      const writer = await job.writer(hired, 'replace');
      await writer.write(before);
      return writer.finish();
    });
    expect(await all()).toEqual(before);
    expect(await definition()).toBe(shape);
  });

  it('rolls back a failed job, mid-stream or after finish', async () => {
    const before = await all();
    for (const when of ['mid-stream', 'after finish'] as const) {
      const err = await engine
        .bulkJob(async (job) => {
          const writer = await job.writer(hired, 'upsert');
          await writer.write(Array.from({ length: 6000 }, (_, i) => person(i, 3)));
          await writer.write(Array.from({ length: 6000 }, (_, i) => person(30_000 + i, 3)));
          await job.db.deleteFrom('hired_employees').where('id', '<', 100).execute();
          if (when === 'after finish') await writer.finish();
          throw new Error(`boom ${when}`);
        })
        .then(
          () => null,
          (e: Error) => e,
        );
      expect(err?.message).toBe(`boom ${when}`);
      expect(await all()).toEqual(before);
    }
    expect(await stagingTables()).toEqual([]);
    // No connection leaked: more jobs than the pool holds still run.
    for (let i = 0; i < 12; i++)
      await engine.bulkJob(async (job) => job.db.selectFrom('jobs').select('id').execute());
  });

  it('snapshots see none of the rows written after they start, and stream', async () => {
    const before = await count('hired_employees');
    const seen = await engine.snapshot(async (db) => {
      const first = await db
        .selectFrom('hired_employees')
        .select((eb) => eb.fn.countAll().as('n'))
        .execute();
      await insertRows(engine.db, engine.caps, hired, [person(70_000), person(70_001)]);
      let streamed = 0;
      for await (const _ of db.selectFrom('hired_employees').select('id').stream(1000)) streamed++;
      return { first: Number(first[0].n), streamed };
    });
    expect(seen).toEqual({ first: before, streamed: before });
    expect(await count('hired_employees')).toBe(before + 2);
  });

  it('classifies a real duplicate id', async () => {
    const err = await insertRows(engine.db, engine.caps, hired, [person(70_000)]).then(
      () => null,
      (e) => e,
    );
    expect(engine.classify(err)).toBe('unique_violation');
  });
});
