import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/engine.js';
import { existingKeys, fromDbRow, insertRows, pageRows } from '../../src/db/rows.js';
import { Catalogue } from '../../src/tables/catalogue.js';
import { parseCatalogue } from '../../src/tables/catalogue-file.js';
import { keyValue } from '../../src/tables/keys.js';
import type { Row, TableDef } from '../../src/tables/types.js';
import { openMigrated, testEngines } from '../helpers/engines.js';

/** A key of two columns (integer + string), a string key, a composite foreign key, a table without a key. */
const catalogue = new Catalogue(
  parseCatalogue(
    `tables:
  - name: line_notes
    columns:
      - { name: order_id, type: integer, nullable: true }
      - { name: line, type: string, max_length: 20, nullable: true }
      - { name: note, type: text }
    foreign_keys:
      - { columns: [order_id, line], references: { table: pairs, columns: [a, b] } }
  - name: pairs
    primary_key: [a, b]
    columns:
      - { name: a, type: integer }
      - { name: b, type: string, max_length: 20 }
      - { name: v, type: text, nullable: true }
  - name: codes
    primary_key: [code]
    columns:
      - { name: code, type: string, max_length: 10 }
      - { name: label, type: string, max_length: 50 }
      - { name: since, type: date }
  - name: events
    columns:
      - { name: at, type: datetime }
      - { name: what, type: string, max_length: 50 }
      - { name: amount, type: decimal, precision: 10, scale: 2, nullable: true }
`,
    'keys.yaml',
  ),
);
const pairs = catalogue.get('pairs');
const codes = catalogue.get('codes');
const events = catalogue.get('events');
const notes = catalogue.get('line_notes');

const pair = (a: number, b: string, v: string | null = `v ${a} ${b}`): Row => ({ a, b, v });
const code = (c: string, label = `label ${c}`): Row => ({ code: c, label, since: '2024-02-29' });
const event = (i: number, amount: string | null = `${i}.50`): Row => ({
  at: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(),
  what: `event ${i}`,
  amount,
});

describe.each(testEngines())('keys of any shape on $name', (testEngine) => {
  let engine: Engine;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ engine, close } = await openMigrated(testEngine, catalogue));
  });
  afterAll(async () => {
    await close?.();
  });
  beforeEach(async () => {
    for (const t of [notes, pairs, codes, events]) await engine.db.deleteFrom(t.name).execute();
  });

  const all = async (t: TableDef) =>
    (await engine.db.selectFrom(t.name).selectAll().execute()).map((r) => fromDbRow(t, engine.caps, r));
  const sorted = (rows: Row[]) => [...rows].sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1));

  const storedPairs = [
    pair(1, 'a'),
    pair(1, 'b'),
    pair(2, 'a'),
    pair(2, 'Ab'),
    pair(-5, 'x y'),
    pair(1000, 'é😀'),
  ];
  const storedCodes = [code('abc'), code('ABC'), code('a,b'), code("o'k"), code('9')];

  it('finds exactly the stored keys, composite and string, in one call and on plain connections', async () => {
    await insertRows(engine.db, engine.caps, pairs, storedPairs);
    await insertRows(engine.db, engine.caps, codes, storedCodes);
    const pairKeys = [
      [1, 'a'],
      [1, 'A'], // not stored: keys compare exactly, case included
      [2, 'Ab'],
      [2, 'b'],
      [3, 'a'],
      [1000, 'é😀'],
      [-5, 'x y'],
      [-5, 'x y '],
    ];
    const codeKeys = [['abc'], ['ABC'], ['Abc'], ['a,b'], ["o'k"], ['9'], ['09'], ['zzz']];
    const expectedPairs = new Set([
      keyValue([1, 'a']),
      keyValue([2, 'Ab']),
      keyValue([1000, 'é😀']),
      keyValue([-5, 'x y']),
    ]);
    const expectedCodes = new Set(['abc', 'ABC', 'a,b', "o'k", '9']);
    const requests = [
      { table: pairs, columns: ['a', 'b'], keys: pairKeys },
      { table: codes, columns: ['code'], keys: codeKeys },
      { table: pairs, columns: ['a', 'b'], keys: [] },
      // A key with a NULL is never looked up (a NULL foreign key is not checked).
      { table: pairs, columns: ['a', 'b'], keys: [[1, null]] },
    ];
    const found = await engine.batchTransaction((tx) => tx.existingKeys(requests));
    expect(found).toEqual([expectedPairs, expectedCodes, new Set(), new Set()]);
    expect(await existingKeys(engine.db, engine.caps, requests[0])).toEqual(expectedPairs);
    expect(await existingKeys(engine.db, engine.caps, requests[1])).toEqual(expectedCodes);
    expect(await existingKeys(engine.db, engine.caps, requests[3])).toEqual(new Set());
  });

  it('inserts rows of a composite key in key order and answers the keys already taken', async () => {
    await insertRows(engine.db, engine.caps, pairs, [pair(2, 'a', 'theirs')]);
    const taken = await engine.batchTransaction((tx) =>
      tx.insert(pairs, [pair(3, 'z'), pair(2, 'a', 'ours'), pair(1, 'q'), pair(2, 'A')]),
    );
    expect(taken).toEqual([keyValue([2, 'a'])]);
    expect(sorted(await all(pairs))).toEqual(
      sorted([pair(3, 'z'), pair(2, 'a', 'theirs'), pair(1, 'q'), pair(2, 'A')]),
    );
    const codesTaken = await engine.batchTransaction(async (tx) => {
      await tx.insert(codes, [code('abc')]);
      return tx.insert(codes, [code('ABC'), code('abc', 'again')]);
    });
    expect(codesTaken).toEqual(['abc']);
  });

  it.skipIf(testEngine.name === 'sqlite')(
    'answers a key another writer committed between the lookup and the insert',
    async () => {
      const rows = Array.from({ length: 1500 }, (_, i) => pair(i % 300, `k${i}`));
      const taken = await engine.batchTransaction(async (tx) => {
        const [found] = await tx.existingKeys([
          { table: pairs, columns: ['a', 'b'], keys: rows.map((r) => [r.a, r.b]) },
        ]);
        expect(found.size).toBe(0);
        // Another connection of the pool, another transaction.
        await insertRows(engine.db, engine.caps, pairs, [
          pair(7, 'k7', 'theirs'),
          pair(299, 'k1499', 'theirs'),
        ]);
        return tx.insert(pairs, rows);
      });
      expect([...taken].sort()).toEqual([keyValue([299, 'k1499']), keyValue([7, 'k7'])].sort());
      const stored = await all(pairs);
      expect(stored).toHaveLength(1500);
      expect(stored.find((r) => r.a === 7 && r.b === 'k7')!.v).toBe('theirs');
    },
  );

  it('upserts and pages a composite key through the bulk path', async () => {
    await insertRows(engine.db, engine.caps, pairs, storedPairs);
    const rows = Array.from({ length: 2500 }, (_, i) =>
      pair(i % 50, `s${i % 97}-${i}`, i % 3 ? `v${i}` : null),
    );
    rows.push(pair(1, 'a', 'updated'));
    await engine.bulkJob(async (job) => {
      const writer = await job.writer(pairs, 'upsert');
      await writer.write(rows);
      return writer.finish();
    });
    const expected = sorted([...storedPairs.filter((p) => !(p.a === 1 && p.b === 'a')), ...rows]);
    expect(sorted(await all(pairs))).toEqual(expected);
    // Keyset pages over (a, b), small enough that many pages start inside one value of a.
    const paged: Row[] = [];
    for await (const page of pageRows(engine.db, engine.caps, pairs, 37))
      paged.push(...page.map((r) => fromDbRow(pairs, engine.caps, r)));
    expect(paged).toHaveLength(expected.length);
    expect(sorted(paged)).toEqual(expected);
    const order = paged.map((r) => r.a as number);
    for (let i = 1; i < order.length; i++) expect(order[i]).toBeGreaterThanOrEqual(order[i - 1]);
  });

  it('checks a composite foreign key, and lets a NULL in it through', async () => {
    await insertRows(engine.db, engine.caps, pairs, storedPairs);
    await insertRows(engine.db, engine.caps, notes, [
      { order_id: 1, line: 'a', note: 'ok' },
      { order_id: null, line: null, note: 'no order' },
    ]);
    const bad = await insertRows(engine.db, engine.caps, notes, [
      { order_id: 9, line: 'a', note: 'bad' },
    ]).then(
      () => null,
      (e: Error) => e,
    );
    expect(bad).toBeInstanceOf(Error);
    expect(await all(notes)).toHaveLength(2);
  });

  it('appends to a table without a key, and replaces it whole', async () => {
    const first = Array.from({ length: 3 }, (_, i) => event(i));
    expect(await engine.batchTransaction((tx) => tx.insert(events, first))).toEqual([]);
    expect(await engine.batchTransaction((tx) => tx.insert(events, first))).toEqual([]);
    expect(await all(events)).toHaveLength(6);
    for (const n of [2000, 3]) {
      const next = Array.from({ length: n }, (_, i) => event(i + 100, i % 2 ? null : '-0.01'));
      await engine.bulkJob(async (job) => {
        const writer = await job.writer(events, 'replace');
        await writer.write(next);
        return writer.finish();
      });
      expect(sorted(await all(events))).toEqual(sorted(next));
    }
    // upsert without a key appends, on every path.
    for (const n of [2, 1500]) {
      const before = (await all(events)).length;
      await engine.bulkJob(async (job) => {
        const writer = await job.writer(events, 'upsert');
        await writer.write(Array.from({ length: n }, (_, i) => event(i)));
        return writer.finish();
      });
      expect(await all(events)).toHaveLength(before + n);
    }
    const paged: Record<string, unknown>[] = [];
    for await (const page of pageRows(engine.db, engine.caps, events, 100)) paged.push(...page);
    expect(paged).toHaveLength((await all(events)).length);
  });
});
