import { LosslessNumber, parse } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { parseCatalogue } from '../../src/tables/catalogue-file.js';
import type { Value } from '../../src/tables/types.js';
import { checkFields, checkObject, headerChecker } from '../../src/tables/validate.js';

const [table] = parseCatalogue(
  `tables:
  - name: every
    primary_key: [i]
    csv: { null_values: ["", "NA"] }
    columns:
      - { name: i, type: integer }
      - { name: b, type: bigint }
      - { name: d, type: decimal, precision: 38, scale: 18 }
      - { name: f, type: double }
      - { name: t, type: boolean }
      - { name: s, type: string, max_length: 4 }
      - { name: x, type: text }
      - { name: day, type: date }
      - { name: at, type: datetime }
      - { name: n, type: decimal, precision: 5, scale: 2, nullable: true, min: 0, max: 100 }
      - { name: code, type: string, max_length: 10, nullable: true, pattern: "[A-Z]{3}-[0-9]{4}" }
      - { name: size, type: string, max_length: 2, nullable: true, enum: [S, M, L] }
      - { name: local, type: datetime, zone: utc, nullable: true }
      - { name: flag, type: boolean, default: true }
`,
  'every.yaml',
);

const good = [
  '1',
  '2',
  '3',
  '4',
  'true',
  'abcd',
  'text',
  '2021-01-01',
  '2021-01-01T00:00:00Z',
  '',
  '',
  '',
  '',
  '0',
];
const at = (name: string) => table.columns.findIndex((c) => c.name === name);

/** The row with one field changed, checked: the value, or `column:reason`. */
function field(name: string, text: string): Value | string {
  const fields = [...good];
  fields[at(name)] = text;
  const r = checkFields(table, fields);
  return r.ok ? r.row[name] : `${r.violation.column}:${r.violation.reason}`;
}

describe('every column type from CSV text', () => {
  it.each([
    ['i', '2147483647', 2147483647],
    ['i', '-2147483648', -2147483648],
    ['i', '+7', 7],
    ['i', '007', 7],
    ['i', '2147483648', 'i:invalid_integer'],
    ['i', '1.0', 'i:invalid_integer'],
    ['b', '9223372036854775807', '9223372036854775807'],
    ['b', '-9223372036854775808', '-9223372036854775808'],
    ['b', '-0', '0'],
    ['b', '0009', '9'],
    ['b', '9223372036854775808', 'b:invalid_integer'],
    ['b', '1e3', 'b:invalid_integer'],
    ['d', '12345678901234567890.123456789012345678', '12345678901234567890.123456789012345678'],
    ['d', '-12.5', '-12.500000000000000000'],
    ['d', '3', '3.000000000000000000'],
    ['d', '.5', '0.500000000000000000'],
    ['d', '-0.0', '0.000000000000000000'],
    ['d', '1.0000000000000000001', 'd:invalid_number'],
    ['d', '1.2000000000000000000000', '1.200000000000000000'],
    ['d', '123456789012345678901', 'd:out_of_range'],
    ['d', '1e5', 'd:invalid_number'],
    ['d', '.', 'd:invalid_number'],
    ['f', '1e308', 1e308],
    ['f', '5e-324', 5e-324],
    ['f', '-0.5', -0.5],
    ['f', '1.5E+3', 1500],
    ['f', '1e309', 'f:out_of_range'],
    ['f', 'NaN', 'f:invalid_number'],
    ['f', 'Infinity', 'f:invalid_number'],
    ['t', 'TRUE', true],
    ['t', 'False', false],
    ['t', '1', true],
    ['t', '0', false],
    ['t', 'yes', 't:invalid_boolean'],
    ['s', 'abcd', 'abcd'],
    ['s', '😀😀😀😀', '😀😀😀😀'],
    ['s', 'abcde', 's:too_long'],
    ['s', '  ab  ', 'ab'],
    ['s', 'NA', 'NA'],
    ['s', '', 's:missing_value'],
    ['s', 'a\u0000', 's:invalid_character'],
    ['s', 'a\uFFFD', 's:invalid_encoding'],
    ['day', '1000-01-01', '1000-01-01'],
    ['day', '9999-12-31', '9999-12-31'],
    ['day', '0999-12-31', 'day:invalid_date'],
    ['day', '2021-02-29', 'day:invalid_date'],
    ['day', '2024-02-29', '2024-02-29'],
    ['day', '2021-1-01', 'day:invalid_date'],
    ['at', '2021-11-07T02:48:42.123Z', '2021-11-07T02:48:42.123Z'],
    ['at', '2021-11-07T02:48:42', 'at:invalid_datetime'],
    ['local', '2021-11-07T02:48:42.5', '2021-11-07T02:48:42.500Z'],
    ['local', '2021-11-07 02:48:42', '2021-11-07T02:48:42.000Z'],
    ['local', '2021-11-07T02:48:42+01:00', '2021-11-07T01:48:42.000Z'],
    ['n', '', null],
    ['n', 'NA', null],
    ['n', '  ', null],
    ['n', '99.99', '99.99'],
    ['n', '100.01', 'n:out_of_range'],
    ['n', '-0.01', 'n:out_of_range'],
    ['code', 'ABC-1234', 'ABC-1234'],
    ['code', 'ABC-12345', 'code:pattern_mismatch'],
    ['code', 'abc-1234', 'code:pattern_mismatch'],
    ['size', 'M', 'M'],
    ['size', 'XL', 'size:not_allowed'],
  ])('%s %j -> %j', (name, text, expected) => {
    expect(field(name, text)).toEqual(expected);
  });

  it('refuses a record with the wrong number of fields', () => {
    const r = checkFields(table, good.slice(1));
    expect(r.ok ? 'ok' : r.violation.reason).toBe('wrong_field_count');
  });
});

describe('every column type from JSON', () => {
  const row = {
    i: 1,
    b: '2',
    d: '3',
    f: 4,
    t: true,
    s: 'abcd',
    x: 'text',
    day: '2021-01-01',
    at: '2021-01-01T00:00:00Z',
  };
  /** The row with one key changed; `undefined` leaves the key out. */
  const json = (name: string, value: unknown) => {
    const r = checkObject(
      table,
      value === undefined ? { ...row, [name]: undefined } : { ...row, [name]: value },
    );
    return r.ok ? r.row[name] : `${r.violation.column}:${r.violation.reason}`;
  };

  it.each([
    ['b', new LosslessNumber('9223372036854775807'), '9223372036854775807'],
    ['b', 9007199254740991, '9007199254740991'],
    ['b', 1.5, 'b:invalid_integer'],
    [
      'd',
      new LosslessNumber('12345678901234567890.123456789012345678'),
      '12345678901234567890.123456789012345678',
    ],
    ['d', 0.1, '0.100000000000000000'],
    ['d', 1e-7, '0.000000100000000000'],
    ['i', new LosslessNumber('42'), 42],
    ['i', 1.5, 'i:invalid_integer'],
    ['i', true, 'i:invalid_integer'],
    ['f', new LosslessNumber('5e-324'), 5e-324],
    ['f', '1e308', 1e308],
    ['t', false, false],
    ['t', 'true', true],
    ['t', 1, 't:invalid_boolean'],
    ['s', 5, 's:invalid_string'],
    ['day', 20210101, 'day:invalid_date'],
    ['at', 0, 'at:invalid_datetime'],
    ['n', null, null],
    ['n', undefined, null],
    ['i', null, 'i:missing_value'],
    ['flag', undefined, true],
    ['flag', false, false],
  ])('%s %j -> %j', (name, value, expected) => {
    expect(json(name, value)).toEqual(expected);
  });

  it('reads every digit of a body parsed by lossless-json', () => {
    const body = parse(
      '{"i":1,"b":-9223372036854775808,"d":12345678901234567890.123456789012345678,"f":1e308,"t":true,"s":"a","x":"b","day":"2021-01-01","at":"2021-01-01T00:00:00Z"}',
      null,
      (v) => new LosslessNumber(v),
    );
    const r = checkObject(table, body);
    expect(r.ok && r.row).toMatchObject({
      b: '-9223372036854775808',
      d: '12345678901234567890.123456789012345678',
      f: 1e308,
    });
  });
});

describe('a CSV header', () => {
  const [t] = parseCatalogue(
    `tables:
  - name: h
    primary_key: [id]
    csv: { header: true }
    columns:
      - { name: id, type: integer }
      - { name: note, type: text, nullable: true, csv_name: Customer note }
`,
    'h.yaml',
  );
  it('matches columns by csv_name, in any order', () => {
    const check = headerChecker(t, ['Customer note', ' id ']);
    expect(check(['hello', '7'])).toEqual({ ok: true, row: { id: 7, note: 'hello' } });
  });
  it.each([
    [['id'], /no field for 'Customer note'/],
    [['id', 'Customer note', 'extra'], /field 3 'extra' is not a column/],
    [['id', 'id', 'Customer note'], /'id' appears more than once/],
  ])('refuses the header %j as invalid_csv', (header, message) => {
    expect(() => headerChecker(t, header)).toThrow(message);
    try {
      headerChecker(t, header);
    } catch (e) {
      expect((e as { code: string }).code).toBe('invalid_csv');
    }
  });
});
