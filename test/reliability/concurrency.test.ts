import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { TableLocks } from '../../src/modules/locks.js';
import { auth, countRows, createTestApp, putHistoric, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';
import { jobsCsv } from './helpers.js';

/** A jobs file that takes a second or two to load, so that other requests meet it in flight. */
const SLOW_ROWS = 150_000;

describe('TableLocks', () => {
  it('refuses a second operation on a table (table_busy) and one over the limit (server_busy)', async () => {
    const locks = new TableLocks(2);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const a = locks.run('jobs', 'historic load', () => held);
    const b = locks.run('departments', 'backup', () => held);
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: AppError) => e.code,
      );
    expect(await code(locks.run('jobs', 'restore', async () => 1))).toBe('table_busy');
    expect(await code(locks.run('hired_employees', 'backup', async () => 1))).toBe('server_busy');
    release();
    await Promise.all([a, b]);
    expect(await locks.run('hired_employees', 'backup', async () => 'ran')).toBe('ran');
  });
});

describe.each(testEngines())('concurrency on $name', (engine) => {
  let t: TestApp;
  afterEach(async () => t?.close());

  const post = (url: string, payload?: unknown) =>
    t.app.inject({ method: 'POST', url, headers: auth, ...(payload ? { payload: payload as object } : {}) });

  /** Resolves once a run of `table` is recorded as running (the operation holds its table lock). */
  async function running(table: string) {
    for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
      const row = await t.ctx.engine.db
        .selectFrom('dataport_loads')
        .select('id')
        .where('table_name', '=', table)
        .where('status', '=', 'running')
        .executeTakeFirst();
      if (row) return row.id as string;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`no running load of ${table} within 20 s`);
  }

  async function status(id: string) {
    const row = await t.ctx.engine.db
      .selectFrom('dataport_loads')
      .select('status')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return row.status as string;
  }

  it(
    '50 concurrent batches with overlapping ids insert each id once and refuse every other copy',
    { timeout: 120_000 },
    async () => {
      t = await createTestApp(engine);
      // Batch b holds ids 5b+1 .. 5b+20: every id is in up to 4 batches.
      const batches = Array.from({ length: 50 }, (_, b) =>
        Array.from({ length: 20 }, (_, k) => ({ id: 5 * b + k + 1, job: `batch ${b} id ${5 * b + k + 1}` })),
      );
      const ids = new Set(batches.flat().map((r) => r.id));
      const answers = await Promise.all(batches.map((rows) => post('/load_data_from_payload/jobs', rows)));
      const bodies = answers.map((a) => {
        expect(a.statusCode, a.body).toBe(200);
        return a.json();
      });
      // Who inserted each id, from the answers: exactly one batch per id.
      const owner = new Map<number, number>();
      bodies.forEach((body, b) => {
        const refused = new Set(body.rejects.map((r: { index: number }) => r.index));
        for (const r of body.rejects) expect(r).toMatchObject({ column: 'id', reason: 'duplicate_id' });
        batches[b].forEach((row, index) => {
          if (refused.has(index)) return;
          expect(owner.has(row.id), `id ${row.id} inserted twice`).toBe(false);
          owner.set(row.id, b);
        });
      });
      expect(owner.size).toBe(ids.size);
      const inserted = bodies.reduce((n, body) => n + body.inserted, 0);
      const rejected = bodies.reduce((n, body) => n + body.rejected, 0);
      expect(inserted).toBe(ids.size);
      expect(inserted + rejected).toBe(50 * 20);
      // The table holds each id once, with the values of the batch that said it inserted it.
      const rows = await t.ctx.engine.db.selectFrom('jobs').selectAll().orderBy('id').execute();
      expect(rows.length).toBe(ids.size);
      for (const row of rows) expect(row.job).toBe(`batch ${owner.get(Number(row.id))} id ${row.id}`);
      // Every refused copy is in the reject log, as duplicate_id.
      const logged = await t.ctx.engine.db
        .selectFrom('dataport_rejects')
        .select(['reason', (eb) => eb.fn.countAll().as('n')])
        .where('table_name', '=', 'jobs')
        .groupBy('reason')
        .execute();
      expect(logged.map((r) => ({ reason: r.reason, n: Number(r.n) }))).toEqual([
        { reason: 'duplicate_id', n: rejected },
      ]);
      const runs = await t.ctx.engine.db
        .selectFrom('dataport_loads')
        .select(['status', (eb) => eb.fn.sum('loaded').as('loaded')])
        .where('table_name', '=', 'jobs')
        .groupBy('status')
        .execute();
      expect(runs.map((r) => ({ status: r.status, loaded: Number(r.loaded) }))).toEqual([
        { status: 'succeeded', loaded: ids.size },
      ]);
    },
  );

  it(
    'a second load, backup or restore of a busy table gets 409 table_busy, and they never interleave',
    { timeout: 120_000 },
    async () => {
      t = await createTestApp(engine, { env: { MAX_HEAVY_OPERATIONS: '4' } });
      await putHistoric(t, 'jobs', jobsCsv(1, 1000, 'small'));
      expect((await post('/load_historic_data/jobs')).statusCode).toBe(200);
      expect((await post('/backup_table/jobs')).statusCode).toBe(200);
      await putHistoric(t, 'jobs', jobsCsv(1, SLOW_ROWS, 'big'));

      const load = post('/load_historic_data/jobs');
      const id = await running('jobs');
      for (const url of ['/load_historic_data/jobs', '/backup_table/jobs', '/restore_backup/jobs']) {
        const busy = await post(url);
        expect(busy.statusCode, url).toBe(409);
        expect(busy.json().error).toMatchObject({
          code: 'table_busy',
          message: expect.stringContaining('historic load'),
        });
      }
      expect(await status(id)).toBe('running');
      const first = await load;
      expect(first.statusCode).toBe(200);
      // Only the first load ran: the table holds exactly its rows, the backup its earlier 1000.
      expect(await countRows(t, 'jobs')).toBe(SLOW_ROWS);
      const history = await t.app.inject(`/backups/jobs`);
      expect(history.json().backups.map((b: { rows: number }) => b.rows)).toEqual([1000]);
      // The lock is released: the next one runs.
      const restore = await post('/restore_backup/jobs');
      expect(restore.statusCode, restore.body).toBe(200);
      expect(await countRows(t, 'jobs')).toBe(1000);
    },
  );

  it('runs operations on different tables in parallel', { timeout: 120_000 }, async () => {
    t = await createTestApp(engine);
    await putHistoric(t, 'jobs', jobsCsv(1, SLOW_ROWS, 'big'));
    await putHistoric(t, 'departments', '1,Sales\n2,Ops\n');
    const load = post('/load_historic_data/jobs');
    const id = await running('jobs');
    // SQLite has one writer at a time, so there the parallel operation is a backup (a read snapshot);
    // the server engines run a second load while the first is in flight.
    const other =
      engine.name === 'sqlite'
        ? await post('/backup_table/departments')
        : await post('/load_historic_data/departments');
    expect(other.statusCode, other.body).toBe(200);
    // The other table's operation finished while the first load was still running.
    expect(await status(id)).toBe('running');
    expect((await load).statusCode).toBe(200);
    expect(await countRows(t, 'jobs')).toBe(SLOW_ROWS);
  });

  it(
    'a heavy operation over MAX_HEAVY_OPERATIONS gets 503 server_busy with Retry-After',
    { timeout: 120_000 },
    async () => {
      t = await createTestApp(engine, { env: { MAX_HEAVY_OPERATIONS: '1' } });
      await putHistoric(t, 'jobs', jobsCsv(1, SLOW_ROWS, 'big'));
      const load = post('/load_historic_data/jobs');
      await running('jobs');
      for (const url of [
        '/load_historic_data/departments',
        '/backup_table/departments',
        '/restore_backup/departments',
      ]) {
        const busy = await post(url);
        expect(busy.statusCode, url).toBe(503);
        expect(busy.headers['retry-after']).toBe('5');
        expect(busy.json().error.code).toBe('server_busy');
      }
      // Short payload inserts are not heavy operations. (On SQLite a write waits for the load's write
      // lock up to its busy timeout, 5 s, and may get 503 database_busy: still never server_busy.)
      const insert = await post('/load_data_from_payload/departments', [{ id: 1, department: 'x' }]);
      if (insert.statusCode !== 200 || engine.name !== 'sqlite') {
        expect(insert.statusCode, insert.body).toBe(engine.name === 'sqlite' ? 503 : 200);
        if (insert.statusCode === 503) expect(insert.json().error.code).toBe('database_busy');
      }
      expect((await load).statusCode).toBe(200);
      expect((await post('/backup_table/departments')).statusCode).toBe(200);
    },
  );
});
