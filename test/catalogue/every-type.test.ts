import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row, TableDef, Value } from '../../src/tables/types.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import {
  api,
  compareValues,
  expectedFromPython,
  putSource,
  readWithPython,
  storedRows,
  yamlCatalogue,
} from '../helpers/catalogue.js';
import { testEngines } from '../helpers/engines.js';

/**
 * Issue 16, end to end through the HTTP app: every column type's edge values and a NULL in each nullable
 * column, through a CSV historic load, a JSON batch (big numbers as JSON numbers), a backup read by
 * Apache Avro's Python reader, and a restore, back digit for digit.
 */
const catalogue = yamlCatalogue(`tables:
  - name: every_type
    primary_key: [id]
    source: edge/every_type.csv
    columns:
      - { name: id, type: bigint }
      - { name: i, type: integer }
      - { name: big, type: bigint }
      - { name: dec, type: decimal, precision: 38, scale: 18 }
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
  - name: big_keys
    primary_key: [id]
    columns:
      - { name: id, type: bigint }
      - { name: amount, type: decimal, precision: 38, scale: 0, nullable: true }
      - { name: n, type: integer }
`);
const table = catalogue.get('every_type');
const BASE = ['i', 'big', 'dec', 'dbl', 'flag', 'str', 'txt', 'day', 'at'];

const DEC38 = '12345678901234567890.123456789012345678';

/** A row; the nullable columns copy the others' values, or are all NULL. */
function row(values: Row, nulls: boolean): Row {
  const r: Row = { ...values };
  for (const c of BASE) r[`n_${c}`] = nulls ? null : values[c];
  return r;
}

interface Case {
  /** The canonical values the database, the API and a restore must give back. */
  expected: Row;
  /** Field texts that differ from the canonical value's text (accepted other spellings). */
  csv?: Record<string, string>;
  json?: Record<string, string>;
}

const cases: Case[] = [
  {
    expected: row(
      {
        id: '9223372036854775807',
        i: 2147483647,
        big: '9223372036854775807',
        dec: DEC38,
        dbl: 1e308,
        flag: true,
        str: 'say "hi", \'you\'',
        txt: 'line one\nline two,\tand a tab \\ backslash \\N',
        day: '1000-01-01',
        at: '2021-07-15T23:59:59.999Z',
      },
      false,
    ),
    // Digits past the millisecond are cut, never rounded.
    csv: { at: '2021-07-15T23:59:59.999999Z' },
    json: { n_at: '"2021-07-15T23:59:59.9999Z"' },
  },
  {
    expected: row(
      {
        id: '-9223372036854775808',
        i: -2147483648,
        big: '-9223372036854775808',
        dec: `-${DEC38}`,
        dbl: 5e-324,
        flag: false,
        str: 'emoji 😀 Zoë 日本',
        txt: 'cr\r\nlf "quoted" ,comma,',
        day: '9999-12-31',
        at: '1000-01-01T00:00:00.001Z',
      },
      true,
    ),
  },
  {
    expected: row(
      {
        id: '0',
        i: -2147483647,
        big: '-9223372036854775807',
        dec: '0.000000000000000000',
        dbl: -0.5,
        flag: true,
        str: 'back\\slash\\',
        txt: '😀',
        day: '2024-02-29',
        at: '9999-12-31T23:59:59.999Z',
      },
      false,
    ),
    csv: { dec: '0' },
    json: { dec: '0' },
  },
  {
    // Other spellings of the same values: +digits, a short decimal, 1/0 booleans, an offset, exponents.
    expected: row(
      {
        id: '9007199254740993',
        i: 7,
        big: '9007199254740993',
        dec: '-0.000000000000000001',
        dbl: 0.002,
        flag: false,
        str: 'NULL',
        txt: 'tab\tinside',
        day: '1970-01-01',
        at: '2021-07-15T21:59:59.999Z',
      },
      false,
    ),
    csv: {
      i: '+7',
      n_i: '007',
      flag: '0',
      n_flag: 'FALSE',
      dbl: '2e-3',
      at: '2021-07-15T23:59:59.999+02:00',
    },
    json: { i: '7.0', flag: '"0"', dbl: '2e-3', at: '"2021-07-15T23:59:59.999+02:00"' },
  },
  {
    expected: row(
      {
        id: '1',
        i: 0,
        big: '0',
        dec: '3.500000000000000000',
        dbl: 1.7976931348623157e308,
        flag: true,
        str: 'x',
        txt: 'y',
        day: '2000-02-29',
        at: '1970-01-01T00:00:00.000Z',
      },
      false,
    ),
    // Trailing zeros past the scale are fine.
    csv: { dec: '3.5', n_dec: '+3.50000000000000000000' },
    json: { dec: '3.5', n_dec: '"3.50"', big: '"0"' },
  },
];

const expected = cases.map((c) => c.expected).sort((a, b) => compareValues(a.id, b.id));

/** RFC 4180: quoted when it holds the delimiter, a quote or a line break. */
const field = (text: string) => (/[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);

function csvText(v: Value): string {
  if (v === null) return '';
  return String(v);
}

function csvFile(t: TableDef, list: Case[]): string {
  return list
    .map((c) => t.columns.map((col) => field(c.csv?.[col.name] ?? csvText(c.expected[col.name]))).join(','))
    .join('\r\n');
}

/** JSON text with the bigints and decimals as JSON numbers, written digit for digit. */
function jsonValue(t: TableDef, name: string, v: Value): string {
  if (v === null) return 'null';
  const type = t.columns.find((c) => c.name === name)!.type;
  if (type === 'bigint' || type === 'decimal') return String(v);
  return JSON.stringify(v);
}

function jsonBatch(t: TableDef, list: Case[]): string {
  const rows = list.map(
    (c) =>
      `{${t.columns.map((col) => `"${col.name}": ${c.json?.[col.name] ?? jsonValue(t, col.name, c.expected[col.name])}`).join(', ')}}`,
  );
  return `[\n${rows.join(',\n')}\n]`;
}

describe.each(testEngines())('every column type end to end on $name', (engine) => {
  let t: TestApp;
  let http: ReturnType<typeof api>;

  beforeAll(async () => {
    t = await createTestApp(engine, { catalogue });
    http = api(t);
  });
  afterAll(async () => t?.close());

  it('(a) loads a CSV with every edge value and NULLs and reads them back digit for digit', async () => {
    await putSource(t, 'every_type', csvFile(table, cases));
    const res = await http.load('every_type');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      source: 'edge/every_type.csv',
      rows_read: cases.length,
      loaded: cases.length,
      rejected: 0,
    });
    const rows = await storedRows(t, 'every_type');
    expect(rows).toEqual(expected);
    // Digit for digit, not merely equal as numbers.
    expect(rows.map((r) => r.id)).toEqual([
      '-9223372036854775808',
      '0',
      '1',
      '9007199254740993',
      '9223372036854775807',
    ]);
    expect(rows.map((r) => r.dec)).toContain(DEC38);
    expect(rows.map((r) => r.n_dec)).toContain(DEC38);
  });

  it('(b) inserts the same values from a JSON batch of JSON numbers', async () => {
    await t.ctx.engine.db.deleteFrom('every_type').execute();
    const text = jsonBatch(table, cases);
    expect(text).toContain(`"id": 9223372036854775807`);
    expect(text).toContain(`"dec": ${DEC38}`);
    const res = await http.batch('every_type', text);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ received: cases.length, inserted: cases.length, rejected: 0 });
    expect(await storedRows(t, 'every_type')).toEqual(expected);
  });

  it('(c) backs up to an Avro file that Apache Avro (python3-avro) reads back to the same values', async () => {
    const res = await http.backup('every_type');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().rows).toBe(cases.length);
    const records = readWithPython(t, res.json().key);
    const pythonRows = expected.map((r) =>
      Object.fromEntries(table.columns.map((c) => [c.name, expectedFromPython(c, r[c.name])])),
    );
    // The backup is in primary-key order.
    expect(records).toEqual(pythonRows);
  });

  it('(d) restores the backup into an emptied table, every value identical', async () => {
    await t.ctx.engine.db.deleteFrom('every_type').execute();
    const res = await http.restore('every_type');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().rows_restored).toBe(cases.length);
    expect(await storedRows(t, 'every_type')).toEqual(expected);
    // And over rows that differ: the restore replaces them.
    await t.ctx.engine.db.updateTable('every_type').set({ str: 'changed' }).execute();
    await t.ctx.engine.db.deleteFrom('every_type').where('i', '=', 0).execute();
    expect((await http.restore('every_type')).statusCode).toBe(200);
    expect(await storedRows(t, 'every_type')).toEqual(expected);
  });

  it('(e) keeps every value through the bulk paths past 1000 rows: load, Python reader, restore by table swap', async () => {
    // Every case again and again under ids of their own: the engines' bulk paths (LOAD DATA, COPY) and
    // the restore's table swap start past 1000 rows.
    const many: Case[] = Array.from({ length: 1200 }, (_, k) => {
      const c = cases[k % cases.length];
      if (k < cases.length) return c;
      const id = String(BigInt(k) * 7_000_000_000_000_003n - 4_000_000_000_000_000_000n);
      return { ...c, expected: { ...c.expected, id } };
    });
    const all = many.map((c) => c.expected).sort((a, b) => compareValues(a.id, b.id));
    await t.ctx.engine.db.deleteFrom('every_type').execute();
    await putSource(t, 'every_type', csvFile(table, many));
    const load = await http.load('every_type');
    expect(load.statusCode, load.body).toBe(200);
    expect(load.json()).toMatchObject({ rows_read: 1200, loaded: 1200, rejected: 0 });
    expect(await storedRows(t, 'every_type')).toEqual(all);
    const backup = await http.backup('every_type', '?codec=snappy');
    expect(backup.statusCode, backup.body).toBe(200);
    expect(readWithPython(t, backup.json().key)).toEqual(
      all.map((r) =>
        Object.fromEntries(table.columns.map((c) => [c.name, expectedFromPython(c, r[c.name])])),
      ),
    );
    await t.ctx.engine.db.deleteFrom('every_type').where('i', '=', 7).execute();
    await t.ctx.engine.db.updateTable('every_type').set({ n_txt: null }).execute();
    const restore = await http.restore('every_type');
    expect(restore.statusCode, restore.body).toBe(200);
    expect(restore.json().rows_restored).toBe(1200);
    expect(await storedRows(t, 'every_type')).toEqual(all);
  });

  it('stores a JSON bigint key of 2^63-1 exactly, and keeps the digits of refused rows in the reject log', async () => {
    const res = await http.batch(
      'big_keys',
      `[{"id": 9223372036854775807, "amount": 99999999999999999999999999999999999999, "n": 1},
        {"id": 9007199254740993, "amount": null, "n": 2},
        {"id": 9007199254740992, "amount": -1, "n": 3},
        {"id": 9223372036854775808, "amount": 1, "n": 4},
        {"id": 9223372036854775806, "amount": 123456789012345678901234567890123456789, "n": 5},
        {"id": 9223372036854775805, "amount": 1, "n": "five"}]`,
    );
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ received: 6, inserted: 3, rejected: 3 });
    expect(
      body.rejects.map((r: { index: number; column: string; reason: string }) => [
        r.index,
        r.column,
        r.reason,
      ]),
    ).toEqual([
      [3, 'id', 'invalid_integer'],
      [4, 'amount', 'out_of_range'],
      [5, 'n', 'invalid_integer'],
    ]);
    // 9007199254740993 and ...992 are one double apart from nothing: both stored, neither a duplicate.
    expect(await storedRows(t, 'big_keys')).toEqual([
      { id: '9007199254740992', amount: '-1', n: 3 },
      { id: '9007199254740993', amount: null, n: 2 },
      { id: '9223372036854775807', amount: '99999999999999999999999999999999999999', n: 1 },
    ]);
    const log = await http.rejects('big_keys', body.load_id);
    expect(log.total).toBe(3);
    const raw = (index: number) => log.rejects.find((r) => r.index === index)!.raw;
    expect(raw(3)).toContain('9223372036854775808');
    expect(raw(4)).toContain('9223372036854775806');
    expect(raw(4)).toContain('123456789012345678901234567890123456789');
    // As a double, 9223372036854775805 would print as 9223372036854776000.
    expect(raw(5)).toContain('9223372036854775805');
    expect(log.rejects.find((r) => r.index === 3)!.message).toContain('9223372036854775808');
  });
});
