import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, createTestApp, type TestApp } from '../helpers/app.js';
import { api, putSource, storedRows, yamlCatalogue, type Reject } from '../helpers/catalogue.js';
import { testEngines } from '../helpers/engines.js';

/**
 * Issue 16's new reason codes through a CSV historic load and a JSON batch, each logged with its line
 * or index, column, reason and raw text; and header lines that lack, add or repeat a column.
 */
const catalogue = yamlCatalogue(`tables:
  - name: rules
    primary_key: [id]
    columns:
      - { name: id, type: integer }
      - { name: amount, type: decimal, precision: 6, scale: 2, min: 0 }
      - { name: ratio, type: double, nullable: true, max: 10 }
      - { name: ok, type: boolean }
      - { name: day, type: date, nullable: true, min: 2000-01-01 }
      - { name: code, type: string, max_length: 10, pattern: "[A-Z]{3}" }
      - { name: color, type: string, max_length: 10, enum: [red, green] }
      - { name: at, type: datetime, nullable: true, max: 2030-01-01T00:00:00Z }
  - name: headed
    primary_key: [id]
    source: headed/in.csv
    csv: { header: true }
    columns:
      - { name: id, type: integer }
      - { name: label, type: string, max_length: 20, csv_name: Label }
      - { name: note, type: text, nullable: true }
`);

const GOOD = {
  id: 0,
  amount: '1.50',
  ratio: 0.5,
  ok: true,
  day: '2021-01-01',
  code: 'ABC',
  color: 'red',
  at: null,
};

/** Rows that each break one rule: [column, CSV field text, JSON value text, reason]. */
const BAD: [string, string, string, string][] = [
  ['amount', 'abc', '"abc"', 'invalid_number'],
  ['amount', '1.005', '1.005', 'invalid_number'],
  ['amount', '-1.00', '-1.00', 'out_of_range'],
  ['amount', '10000', '10000', 'out_of_range'],
  ['ratio', '10.5', '10.5', 'out_of_range'],
  ['ratio', 'NaN', '"NaN"', 'invalid_number'],
  ['ok', 'maybe', '"maybe"', 'invalid_boolean'],
  ['ok', '2', '2', 'invalid_boolean'],
  ['day', '2021-02-30', '"2021-02-30"', 'invalid_date'],
  ['day', '21-01-01', '"21-01-01"', 'invalid_date'],
  ['day', '1999-12-31', '"1999-12-31"', 'out_of_range'],
  ['code', 'abc', '"abc"', 'pattern_mismatch'],
  ['code', 'ABCD', '"ABCD"', 'pattern_mismatch'],
  ['color', 'blue', '"blue"', 'not_allowed'],
  ['color', 'Red', '"Red"', 'not_allowed'],
  ['at', '2031-01-01T00:00:00Z', '"2031-01-01T00:00:00Z"', 'out_of_range'],
];

const COLUMNS = Object.keys(GOOD);
const csvLine = (id: number, column?: string, text?: string) =>
  COLUMNS.map((c) =>
    c === 'id'
      ? String(id)
      : c === column
        ? text
        : GOOD[c as keyof typeof GOOD] === null
          ? ''
          : String(GOOD[c as keyof typeof GOOD]),
  ).join(',');
const jsonRow = (id: number, column?: string, text?: string) =>
  `{${COLUMNS.map((c) => `"${c}": ${c === 'id' ? id : c === column ? text : JSON.stringify(GOOD[c as keyof typeof GOOD])}`).join(', ')}}`;

const triples = (rejects: Reject[], where: 'line' | 'index') =>
  rejects.map((r) => [r[where], r.column, r.reason]).sort((a, b) => (a[0] as number) - (b[0] as number));

describe.each(testEngines())('reason codes of the catalogue rules on $name', (engine) => {
  let t: TestApp;
  let http: ReturnType<typeof api>;

  beforeAll(async () => {
    t = await createTestApp(engine, { catalogue });
    http = api(t);
  });
  afterAll(async () => t?.close());

  it('refuses and logs each rule broken in a CSV load, with its line, column, reason and raw line', async () => {
    // Line 1 and the last line are good rows; every other line breaks one rule.
    const lines = [csvLine(1), ...BAD.map(([column, text], i) => csvLine(i + 2, column, text)), csvLine(99)];
    await putSource(t, 'rules', lines.join('\n') + '\n');
    const res = await http.load('rules');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ rows_read: BAD.length + 2, loaded: 2, rejected: BAD.length });
    expect((await storedRows(t, 'rules')).map((r) => r.id)).toEqual([1, 99]);
    expect((await storedRows(t, 'rules'))[0]).toEqual({ ...GOOD, id: 1 });
    const log = await http.rejects('rules', res.json().load_id);
    expect(log.total).toBe(BAD.length);
    expect(triples(log.rejects, 'line')).toEqual(
      BAD.map(([column, , , reason], i) => [i + 2, column, reason]),
    );
    for (const r of log.rejects) {
      expect(r.source).toBe('database/rules/historic/rules.csv');
      expect(r.raw).toBe(lines[r.line! - 1]);
      expect(r.message).toContain(r.column);
    }
  });

  it('refuses and logs each rule broken in a JSON batch, with its index, column, reason and raw row', async () => {
    const rows = [jsonRow(100), ...BAD.map(([column, , text], i) => jsonRow(101 + i, column, text))];
    const res = await http.batch('rules', `[${rows.join(',\n')}]`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ received: rows.length, inserted: 1, rejected: BAD.length });
    const expected = BAD.map(([column, , , reason], i) => [i + 1, column, reason]);
    expect(triples(body.rejects, 'index')).toEqual(expected);
    const log = await http.rejects('rules', body.load_id);
    expect(triples(log.rejects, 'index')).toEqual(expected);
    for (const r of log.rejects) {
      expect(r.source).toBe('payload');
      expect(r.line).toBeUndefined();
      const [column, , text] = BAD[r.index! - 1];
      // The raw row keeps the value as sent (the decimal's digits too).
      expect(JSON.parse(r.raw).id).toBe(100 + r.index!);
      expect(r.raw.replace(/\s/g, '')).toContain(`"${column}":${text.replace(/\s/g, '')}`);
    }
    expect(await countRows(t, 'rules')).toBe(3);
  });

  it.each([
    ['lacks a column', 'id,Label\n1,a\n', /no field for 'note'/],
    ['names an unknown column', 'id,Label,note,extra\n1,a,b,c\n', /'extra' is not a column/],
    ['repeats a column', 'id,Label,Label,note\n1,a,a,b\n', /'Label' appears more than once/],
    [
      'names a column by its name rather than its csv_name',
      'id,label,note\n1,a,b\n',
      /'label' is not a column; no field for 'Label'/,
    ],
  ])(
    'refuses a header line that %s with 422 invalid_csv naming it, loading nothing',
    async (_, text, named) => {
      await putSource(t, 'headed', text);
      const res = await http.load('headed');
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json().error.code).toBe('invalid_csv');
      expect(res.json().error.message).toMatch(named);
      expect(await countRows(t, 'headed')).toBe(0);
      expect((await http.rejects('headed')).total).toBe(0);
    },
  );

  it('reads a header line in any order, by csv_name', async () => {
    await putSource(t, 'headed', 'note,Label,id\n"a, b",first,2\n,second,1\n');
    const res = await http.load('headed');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ rows_read: 2, loaded: 2, rejected: 0 });
    expect(await storedRows(t, 'headed')).toEqual([
      { id: 1, label: 'second', note: null },
      { id: 2, label: 'first', note: 'a, b' },
    ]);
  });
});
