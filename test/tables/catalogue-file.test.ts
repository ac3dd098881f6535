import { describe, expect, it } from 'vitest';
import { Catalogue, loadCatalogue } from '../../src/tables/catalogue.js';
import { CatalogueError, parseCatalogue } from '../../src/tables/catalogue-file.js';

/** The problems of a bad catalogue text, one string each. */
function problems(text: string): string[] {
  try {
    parseCatalogue(text, 'bad.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(CatalogueError);
    return (e as CatalogueError).problems;
  }
  throw new Error('the catalogue was accepted');
}

const one = (columns: string, extra = '') => `tables:
  - name: t
    primary_key: [id]${extra}
    columns:
      - { name: id, type: integer }
${columns}`;

describe('the catalogue file', () => {
  it('reads the shipped catalogues', () => {
    expect(loadCatalogue('catalogues/demo.yaml').names).toEqual(['departments', 'jobs', 'hired_employees']);
    const shop = loadCatalogue('catalogues/shop.yaml');
    expect(shop.names).toEqual(['customers', 'products', 'orders', 'order_lines', 'page_views']);
    const lines = shop.get('order_lines');
    expect(lines.primary_key).toEqual(['order_id', 'line_no']);
    expect(lines.foreign_keys).toEqual([
      { columns: ['order_id'], references: { table: 'orders', columns: ['id'] } },
      { columns: ['sku'], references: { table: 'products', columns: ['sku'] } },
    ]);
    expect(lines.columns.find((c) => c.name === 'note')).toMatchObject({
      nullable: true,
      csv_name: 'Customer note',
    });
    expect(shop.get('page_views').primary_key).toEqual([]);
    expect(shop.get('products').csv).toEqual({
      header: true,
      delimiter: ';',
      quote: '"',
      null_values: ['', 'NA'],
    });
  });

  it('fills the defaults of every optional key', () => {
    const [t] = parseCatalogue(one('      - { name: s, type: string, max_length: 5 }'), 'x.yaml');
    expect(t).toMatchObject({
      source: 'database/t/historic/t.csv',
      csv: { header: false, delimiter: ',', quote: '"', null_values: [''] },
      unique: [],
      foreign_keys: [],
    });
    expect(t.columns[1]).toEqual({
      name: 's',
      type: 'string',
      nullable: false,
      max_length: 5,
      csv_name: 's',
    });
  });

  it('keeps every digit of bounds and defaults, read as the column type', () => {
    const [t] = parseCatalogue(
      one(`      - { name: b, type: bigint, min: -9223372036854775808, max: 9223372036854775807, default: 12345678901234567 }
      - { name: d, type: decimal, precision: 38, scale: 18, max: 12345678901234567890.123456789012345678 }
      - { name: f, type: boolean, default: false }
      - { name: day, type: date, min: 1000-01-01 }`),
      'x.yaml',
    );
    expect(t.columns[1]).toMatchObject({
      min: '-9223372036854775808',
      max: '9223372036854775807',
      default: '12345678901234567',
    });
    expect(t.columns[2].max).toBe('12345678901234567890.123456789012345678');
    expect(t.columns[3].default).toBe(false);
    expect(t.columns[4].min).toBe('1000-01-01');
  });

  it('lists every problem with its place in the file, in one error', () => {
    const text = `tables:
  - name: a
    primary_key: [id, nope]
    colour: red
    columns:
      - { name: id, type: integer }
      - { name: b, type: varchar }
      - { name: c, type: string }
      - { name: d, type: decimal, precision: 40, scale: 2 }
      - { name: e, type: integer, references: zz.id }
      - { name: f, type: integer, max_length: 3 }
      - { name: g, type: date, min: 2021-02-30 }
      - { name: h, type: string, max_length: 3, pattern: "[" }
      - { name: Bad, type: text }
`;
    const list = problems(text);
    expect(list).toEqual([
      "tables[0].colour (line 4): unknown key 'colour' (allowed: name, primary_key, source, csv, columns, unique, foreign_keys)",
      "tables[0].columns[1].type (line 7): unknown type 'varchar' (known: integer, bigint, decimal, double, boolean, string, text, date, datetime)",
      'tables[0].columns[2].max_length (line 8): string needs max_length (1 to 65535); use text for unbounded text',
      'tables[0].columns[3].precision (line 9): precision must be a whole number from 1 to 38, got 40',
      "tables[0].columns[5].max_length (line 11): 'max_length' does not apply to a integer column",
      expect.stringMatching(
        /^tables\[0\]\.columns\[6\]\.min \(line 12\): min is not a valid date: .*2021-02-30/,
      ),
      expect.stringMatching(
        /^tables\[0\]\.columns\[7\]\.pattern \(line 13\): not a valid regular expression/,
      ),
      expect.stringMatching(/^tables\[0\]\.columns\[8\]\.name \(line 14\): a column name must match/),
      expect.stringMatching(/^tables\[0\]\.primary_key \(line 3\): unknown column 'nope'/),
      "tables[0].columns[4].references (line 10): references unknown table 'zz' (tables: a)",
    ]);
    expect(() => parseCatalogue(text, 'bad.yaml')).toThrow(
      /^invalid catalogue bad.yaml: 10 problems:\n {2}- tables\[0\]\.colour/,
    );
  });

  it.each([
    ['a YAML syntax error', 'tables: [\n', /line 2, column 1: /],
    ['no tables', 'tables: []\n', /tables \(line 1\): must be a list of at least one table/],
    ['an unknown top-level key', 'tables: []\nviews: []\n', /views \(line 2\): unknown key 'views'/],
    [
      'a repeated table',
      `${one('')}  - name: t\n    columns: [{ name: x, type: text }]\n`,
      /tables\[1\]\.name \(line 6\): table 't' appears twice/,
    ],
    [
      'a repeated column',
      one('      - { name: id, type: bigint }'),
      /tables\[0\]\.columns\[1\]\.name \(line 6\): column 'id' appears twice/,
    ],
    [
      'a nullable key column',
      one('      - { name: k, type: integer, nullable: true }', '\n    unique: [[k]]').replace(
        '[id]',
        '[id, k]',
      ),
      /column 'k' is nullable/,
    ],
    [
      'a key column of a type that cannot be a key',
      one('      - { name: x, type: double }').replace('[id]', '[x]'),
      /column 'x' is double: a key takes/,
    ],
    [
      'a scale above the precision',
      one('      - { name: p, type: decimal, precision: 4, scale: 5 }'),
      /scale must be a whole number from 0 to precision \(4\), got 5/,
    ],
    ['min above max', one('      - { name: n, type: integer, min: 5, max: 1 }'), /max 1 is below min 5/],
    [
      'a bad enum value',
      one('      - { name: n, type: integer, enum: [1, two] }'),
      /enum\[1\] is not a valid integer/,
    ],
    [
      'a default of the wrong type',
      one('      - { name: n, type: boolean, default: perhaps }'),
      /default is not a valid boolean/,
    ],
    [
      'a default null on a column that is not nullable',
      one('      - { name: n, type: text, default: null }'),
      /default null needs nullable: true/,
    ],
    [
      'a zone other than utc',
      one('      - { name: n, type: datetime, zone: cet }'),
      /zone must be utc, got 'cet'/,
    ],
    [
      'a bad csv option',
      one('', '\n    csv: { delimiter: ";;", header: yes, quote: "\'" }'),
      /csv\.delimiter \(line 4\): must be one character/,
    ],
    [
      'an unknown csv option',
      one('', '\n    csv: { escape: "\\\\" }'),
      /csv\.escape \(line 4\): unknown key 'escape'/,
    ],
    [
      'a source that leaves the bucket',
      one('', '\n    source: ../etc/passwd'),
      /source \(line 4\): invalid storage key/,
    ],
    [
      'a malformed references',
      one('      - { name: r, type: integer, references: t }'),
      /references \(line 6\): must be table\.column/,
    ],
    [
      'a reference to a missing column',
      one('      - { name: r, type: integer, references: t.nope }'),
      /references unknown column t\.nope/,
    ],
    [
      'a reference to a column that is no key',
      one('      - { name: r, type: integer, references: t.r }'),
      /must reference the primary key or a unique key of t; \(r\) is neither/,
    ],
    [
      'a reference between different types',
      one('      - { name: r, type: bigint, references: t.id }'),
      /t\.r is bigint but t\.id is integer/,
    ],
    [
      'a composite foreign key of the wrong width',
      one(
        '      - { name: r, type: integer }',
        '\n    foreign_keys: [{ columns: [r, id], references: { table: t, columns: [id] } }]',
      ),
      /foreign_keys\[0\] \(line 4\): has 2 columns but references 1/,
    ],
    [
      'a cycle of foreign keys',
      `tables:
  - name: a
    primary_key: [id]
    columns: [{ name: id, type: integer, references: b.id }]
  - name: b
    primary_key: [id]
    columns: [{ name: id, type: integer, references: a.id }]
`,
      /tables \(line 2\): foreign keys form a cycle: a -> b -> a/,
    ],
  ])('refuses %s', (_, text, message) => {
    expect(problems(text).join('\n')).toMatch(message);
  });

  it('allows a table that references itself', () => {
    const [t] = parseCatalogue(
      one('      - { name: parent, type: integer, nullable: true, references: t.id }'),
      'x.yaml',
    );
    expect(new Catalogue([t]).referencesTo('t')).toHaveLength(1);
  });

  it('says what is wrong with the file itself', () => {
    expect(() => loadCatalogue('catalogues/nope.yaml')).toThrow(
      /invalid catalogue catalogues\/nope.yaml: 1 problem:\n {2}- cannot be read/,
    );
    expect(() => loadCatalogue('README.md')).toThrow(/must be a .yaml, .yml or .json file/);
  });

  it('reads JSON as well, every digit of its numbers kept', () => {
    const json =
      '{"tables": [{"name": "j", "primary_key": ["id"], "columns": [{"name": "id", "type": "bigint", "max": 9007199254740993}]}]}';
    const [t] = parseCatalogue(json, 'x.json');
    expect(t.columns[0].max).toBe('9007199254740993');
  });
});
