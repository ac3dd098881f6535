import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/engine.js';
import { denseSpan, fromDbRow, insertRows } from '../../src/db/rows.js';
import { Catalogue, defaultCatalogue } from '../../src/tables/catalogue.js';
import { parseCatalogue } from '../../src/tables/catalogue-file.js';
import type { Row } from '../../src/tables/types.js';
import { openMigrated, testEngines } from '../helpers/engines.js';

const catalogue = defaultCatalogue();
const hired = catalogue.get('hired_employees');

// Text that SQL escaping, array literals and JSON must all carry through unchanged.
const NAMES = [
  "O'Brien",
  'back\\slash\\',
  'quote "double"',
  '{braces}, comma',
  'NULL',
  'ask? ?? ?',
  'Zoë 😀 日本語',
  'tab\there',
];

const person = (id: number, extra: Partial<Row> = {}): Row => ({
  id,
  name: NAMES[id % NAMES.length],
  datetime: new Date(Date.UTC(2021, 0, 1) + (id % 100_000) * 1_234_567).toISOString(),
  department_id: 1 + (id % 3),
  job_id: 1,
  ...extra,
});

describe('denseSpan', () => {
  it('answers a range only when it reads at most twice the ids', () => {
    expect(denseSpan([])).toBeNull();
    expect(denseSpan([7])).toEqual({ min: 7, max: 7 });
    expect(denseSpan([5, 3, 4])).toEqual({ min: 3, max: 5 });
    expect(denseSpan([1, 4])).toEqual({ min: 1, max: 4 });
    expect(denseSpan([1, 5])).toBeNull();
    expect(denseSpan([1, 2, 2_000_000_000])).toBeNull();
  });
});

describe.each(testEngines())('batchTransaction on $name', (testEngine) => {
  let engine: Engine;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ engine, close } = await openMigrated(testEngine, catalogue));
    const named = (prefix: string, column: string) =>
      [1, 2, 3].map((id) => ({ id, [column]: `${prefix} ${id}` }));
    await insertRows(engine.db, engine.caps, catalogue.get('departments'), named('Dept', 'department'));
    await insertRows(engine.db, engine.caps, catalogue.get('jobs'), named('Job', 'job'));
  });
  afterAll(async () => {
    await close?.();
  });
  beforeEach(async () => {
    await engine.db.deleteFrom(hired.name).execute();
  });

  const all = async () =>
    (await engine.db.selectFrom(hired.name).selectAll().orderBy('id').execute()).map((r) =>
      fromDbRow(hired, engine.caps, r),
    );

  it('inserts rows exactly as given, and commits them with the rest of the transaction', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => person(i + 1));
    await engine.batchTransaction(async (tx) => {
      await tx.insert(hired, rows);
      await tx.insert(hired, []);
      await tx.db
        .insertInto('dataport_loads')
        .values({
          id: 'batch-test',
          table_name: hired.name,
          kind: 'payload',
          source: 'test',
          status: 'succeeded',
          started_at: '2021-01-01T00:00:00.000Z',
        })
        .execute();
    });
    expect(await all()).toEqual(rows);
    const runs = await engine.db
      .selectFrom('dataport_loads')
      .select('id')
      .where('id', '=', 'batch-test')
      .execute();
    expect(runs).toHaveLength(1);
  });

  it('inserts a batch of any size, in as many statements as it takes', async () => {
    const rows = Array.from({ length: 999 }, (_, i) => person(i + 1));
    for (const [from, to] of [
      [0, 1],
      [1, 3],
      [3, 999],
    ])
      expect(await engine.batchTransaction((tx) => tx.insert(hired, rows.slice(from, to)))).toEqual([]);
    expect(await all()).toEqual(rows);
  });

  it('finds existing ids among dense, sparse and absent ones, and only those asked for', async () => {
    await insertRows(
      engine.db,
      engine.caps,
      hired,
      [1, 2, 3, 5, 8, 1_000_000, 2_000_000_000].map((id) => person(id)),
    );
    await engine.batchTransaction(async (tx) => {
      const request = (table: string, ids: number[]) => ({
        table: catalogue.get(table),
        columns: ['id'],
        keys: ids.map((id) => [id]),
      });
      const one = async (table: string, ids: number[]) => (await tx.existingKeys([request(table, ids)]))[0];
      // Dense: one range read, which also meets 2 (not asked for).
      expect(await one(hired.name, [1, 3, 4])).toEqual(new Set([1, 3]));
      // Sparse: a lookup per id.
      expect(await one(hired.name, [8, 1_000_000, 2_000_000_000, 7_777_777])).toEqual(
        new Set([8, 1_000_000, 2_000_000_000]),
      );
      expect(await one(hired.name, [])).toEqual(new Set());
      expect(await one('departments', [3, 2, 9])).toEqual(new Set([2, 3]));
      // Several tables at once (one statement on MariaDB), each answer only for its own request, in order.
      expect(
        await tx.existingKeys([
          request('departments', [3, 9]),
          request(hired.name, []),
          request(hired.name, [1, 2, 3, 4]),
          request('jobs', [1, 50]),
          request(hired.name, [5, 2_000_000_000, 6]),
        ]),
      ).toEqual([new Set([3]), new Set(), new Set([1, 2, 3]), new Set([1]), new Set([5, 2_000_000_000])]);
      expect(await tx.existingKeys([])).toEqual([]);
      // Reads see the transaction's own writes.
      await tx.insert(hired, [person(4)]);
      expect(await one(hired.name, [4, 6])).toEqual(new Set([4]));
    });
  });

  it('rolls everything back when the callback throws', async () => {
    const err = await engine
      .batchTransaction(async (tx) => {
        await tx.insert(hired, [person(1), person(2)]);
        throw new Error('changed my mind');
      })
      .catch((e: Error) => e);
    expect(err?.message).toBe('changed my mind');
    expect(await all()).toEqual([]);
  });

  it('answers an id already in the table as taken, keeps that row as it was and inserts the rest', async () => {
    await insertRows(engine.db, engine.caps, hired, [person(2)]);
    const taken = await engine.batchTransaction((tx) =>
      tx.insert(hired, [person(3), person(2, { name: 'again' }), person(1)]),
    );
    expect(taken).toEqual([2]);
    expect(await all()).toEqual([person(1), person(2), person(3)]);
  });

  it.skipIf(testEngine.name === 'sqlite')(
    'answers the ids another writer committed between the lookup and the insert',
    async () => {
      const rows = Array.from({ length: 2500 }, (_, i) => person(i + 1));
      const taken = await engine.batchTransaction(async (tx) => {
        expect(await tx.existingKeys([{ table: hired, columns: ['id'], keys: [[1], [2500]] }])).toEqual([
          new Set(),
        ]);
        // Another connection of the pool, another transaction: in the first and the last statement.
        await insertRows(engine.db, engine.caps, hired, [person(7, { name: 'theirs' }), person(2400)]);
        return tx.insert(hired, rows);
      });
      expect((taken as number[]).sort((a, b) => a - b)).toEqual([7, 2400]);
      const stored = await all();
      expect(stored).toHaveLength(2500);
      expect(stored[6]).toEqual(person(7, { name: 'theirs' }));
    },
  );

  it('refuses a row whose reference does not exist (the database checks too)', async () => {
    const err = await engine
      .batchTransaction((tx) => tx.insert(hired, [person(1, { department_id: 99 })]))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(await all()).toEqual([]);
  });
});

describe.each(testEngines())('batchTransaction with long text on $name', (testEngine) => {
  const notes = new Catalogue(
    parseCatalogue(
      `tables:
  - name: notes
    primary_key: [id]
    columns:
      - { name: id, type: integer }
      - { name: body, type: string, max_length: 65535 }
`,
      'notes.yaml',
    ),
  );
  let engine: Engine;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ engine, close } = await openMigrated(testEngine, notes));
  });
  afterAll(async () => {
    await close?.();
  });

  it('inserts rows of 48,001 characters each, 19 MB of SQL in all (MariaDB: over max_allowed_packet in one statement)', async () => {
    const table = notes.get('notes');
    // 4-byte characters, and quotes and backslashes that escaping doubles: 128 KB of SQL a row. One
    // statement for the batch would pass MariaDB's 16 MB max_allowed_packet; each statement stops near 1M characters.
    const rows: Row[] = Array.from({ length: 150 }, (_, i) => ({
      id: i + 1,
      body: `${i % 10}${"😀'\\".repeat(16_000)}`,
    }));
    expect(await engine.batchTransaction((tx) => tx.insert(table, rows))).toEqual([]);
    const stored = await engine.db.selectFrom('notes').selectAll().orderBy('id').execute();
    expect(stored.map((r) => fromDbRow(table, engine.caps, r))).toEqual(rows);
  });
});
