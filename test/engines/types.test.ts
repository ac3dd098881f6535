import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/engine.js';
import { NATIVE_FROM_ROWS } from '../../src/db/native-writer.js';
import { fromDbRow, insertRows, pageRows } from '../../src/db/rows.js';
import { Catalogue } from '../../src/tables/catalogue.js';
import { parseCatalogue } from '../../src/tables/catalogue-file.js';
import type { Row, TableDef } from '../../src/tables/types.js';
import { openMigrated, testEngines } from '../helpers/engines.js';

/** One column of each type, and a nullable one of each, under a bigint primary key. */
const catalogue = new Catalogue(
  parseCatalogue(
    `tables:
  - name: every_type
    primary_key: [id]
    columns:
      - { name: id, type: bigint }
      - { name: i, type: integer }
      - { name: big, type: bigint }
      - { name: dec, type: decimal, precision: 38, scale: 18 }
      - { name: money, type: decimal, precision: 12, scale: 2 }
      - { name: dbl, type: double }
      - { name: flag, type: boolean }
      - { name: str, type: string, max_length: 100 }
      - { name: txt, type: text }
      - { name: day, type: date }
      - { name: at, type: datetime }
      - { name: n_i, type: integer, nullable: true }
      - { name: n_big, type: bigint, nullable: true }
      - { name: n_dec, type: decimal, precision: 38, scale: 18, nullable: true }
      - { name: n_dbl, type: double, nullable: true }
      - { name: n_flag, type: boolean, nullable: true }
      - { name: n_str, type: string, max_length: 100, nullable: true }
      - { name: n_txt, type: text, nullable: true }
      - { name: n_day, type: date, nullable: true }
      - { name: n_at, type: datetime, nullable: true }
`,
    'types.yaml',
  ),
);
const table = catalogue.get('every_type');

const INTS = [2147483647, -2147483647, -2147483648, 0, 7];
const BIGS = ['9223372036854775807', '-9223372036854775807', '-9223372036854775808', '0', '9007199254740993'];
const DECS = [
  '12345678901234567890.123456789012345678',
  '-12345678901234567890.123456789012345678',
  '0.000000000000000000',
  '-0.000000000000000001',
  '1.500000000000000000',
];
const MONEY = ['3.00', '-0.50', '9999999999.99', '0.00', '12.34'];
const DOUBLES = [1e308, 5e-324, -0.5, 0, 1.7976931348623157e308, 0.1, -2.2250738585072014e-308];
const STRINGS = [
  'tab\there',
  'new\nline',
  'cr\r\nlf',
  'back\\slash\\',
  '\\N',
  'quote "double" \'single\'',
  'Zoë 😀 日本語',
  'NULL',
  ',comma,',
  '',
];
const DAYS = ['1000-01-01', '9999-12-31', '2024-02-29', '1970-01-01'];
const TIMES = [
  '2021-07-15T23:59:59.999Z',
  '1000-01-01T00:00:00.001Z',
  '9999-12-31T23:59:59.999Z',
  '2024-02-29T12:00:00.000Z',
];

/** Row k: every edge value in turn; NULL in every nullable column of even rows. */
function row(k: number, version = 0): Row {
  const pick = <T>(values: T[]) => values[(k + version) % values.length];
  const nulls = k % 2 === 0;
  const r: Row = {
    // Ids near both ends of the bigint range and in between.
    id: k < BIGS.length ? BIGS[k] : String(BigInt(k) * 1_000_000_007n - 4_611_686_018_427_387_904n),
    i: pick(INTS),
    big: pick(BIGS),
    dec: pick(DECS),
    money: pick(MONEY),
    dbl: pick(DOUBLES),
    flag: (k + version) % 2 === 1,
    str: `${pick(STRINGS)}${version}`,
    txt: `${pick(STRINGS)}\n${'long text 😀 '.repeat(k % 50)}`,
    day: pick(DAYS),
    at: pick(TIMES),
  };
  for (const c of ['i', 'big', 'dec', 'dbl', 'flag', 'str', 'txt', 'day', 'at'])
    r[`n_${c}`] = nulls ? null : r[c === 'dec' ? 'dec' : c];
  return r;
}

const rows = (n: number, version = 0) => Array.from({ length: n }, (_, k) => row(k, version));

const byId = (a: Row, b: Row) => {
  const x = BigInt(a.id as string);
  const y = BigInt(b.id as string);
  return x < y ? -1 : x > y ? 1 : 0;
};

describe.each(testEngines())('every column type on $name', (testEngine) => {
  let engine: Engine;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ engine, close } = await openMigrated(testEngine, catalogue));
  });
  afterAll(async () => {
    await close?.();
  });

  const stored = async (t: TableDef = table) =>
    (await engine.db.selectFrom(t.name).selectAll().execute())
      .map((r) => fromDbRow(t, engine.caps, r))
      .sort(byId);
  const write = (data: Row[], mode: 'upsert' | 'replace', chunk = 700) =>
    engine.bulkJob(async (job) => {
      const writer = await job.writer(table, mode);
      for (let i = 0; i < data.length; i += chunk) await writer.write(data.slice(i, i + chunk));
      return writer.finish();
    });
  const many = NATIVE_FROM_ROWS + 500;

  it('keeps every value through the bulk path straight into an empty table', async () => {
    const data = rows(many);
    expect(await write(data, 'upsert')).toBe(many);
    expect(await stored()).toEqual([...data].sort(byId));
  });

  it('keeps every value through the staging upsert over existing rows, and through a few rows', async () => {
    // More rows than NATIVE_FROM_ROWS over a full table: the staging table and its merge.
    const next = rows(many + 10, 1);
    expect(await write(next, 'upsert')).toBe(many + 10);
    expect(await stored()).toEqual([...next].sort(byId));
    // A few rows: multi-row statements.
    const few = [row(0, 2), row(3, 2), row(many + 20, 2)];
    await write(few, 'upsert');
    const expected = new Map(next.map((r) => [r.id, r]));
    for (const r of few) expected.set(r.id, r);
    expect(await stored()).toEqual([...expected.values()].sort(byId));
  });

  it('keeps every value through a replace, large and small', async () => {
    const data = rows(many, 3);
    expect(await write(data, 'replace')).toBe(many);
    expect(await stored()).toEqual([...data].sort(byId));
    const few = rows(4, 4);
    await write(few, 'replace');
    expect(await stored()).toEqual([...few].sort(byId));
  });

  it('keeps every value through a batch insert, and reads it back by pages in key order', async () => {
    await engine.db.deleteFrom(table.name).execute();
    const data = rows(many, 5);
    expect(await engine.batchTransaction((tx) => tx.insert(table, data))).toEqual([]);
    expect(await stored()).toEqual([...data].sort(byId));
    const paged: Row[] = [];
    for await (const page of pageRows(engine.db, engine.caps, table, 333))
      paged.push(...page.map((r) => fromDbRow(table, engine.caps, r)));
    expect(paged).toEqual([...data].sort(byId));
    // Taken keys come back in the table's key form, bigint text.
    const again = [row(1, 6), row(many + 50, 6)];
    expect(await engine.batchTransaction((tx) => tx.insert(table, again))).toEqual([row(1).id]);
  });

  it('keeps every value through multi-row inserts, and decodes each value as decodeValue does', async () => {
    await engine.db.deleteFrom(table.name).execute();
    const data = rows(20, 7);
    await insertRows(engine.db, engine.caps, table, data);
    const raw = await engine.db.selectFrom(table.name).selectAll().execute();
    const decoded = raw
      .map((r) =>
        Object.fromEntries(table.columns.map((c) => [c.name, engine.caps.decodeValue(c, r[c.name])])),
      )
      .sort(byId);
    expect(decoded).toEqual([...data].sort(byId));
    // Digit for digit, not merely equal as numbers.
    const top = decoded.find((r) => r.id === '9223372036854775807')!;
    expect(top.id).toBe('9223372036854775807');
    expect(decoded.map((r) => r.dec)).toContain('12345678901234567890.123456789012345678');
    expect(decoded.find((r) => r.id === '-9223372036854775808')).toBeDefined();
  });
});
