import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultCatalogue } from '../../src/tables/catalogue.js';
import { parseGeneral, parseIsoDatetime } from '../../src/tables/datetime.js';
import { checkFields } from '../../src/tables/validate.js';

const employees = defaultCatalogue().get('hired_employees');

/**
 * A deliberately plain restatement of the rules, written apart from the validator, that must agree
 * with it on any input.
 */
function reference(fields: string[]): string {
  if (fields.length !== 5) return 'null:wrong_field_count';
  const [id, name, datetime, department, job] = fields.map((f) => f.trim());
  const integer = (column: string, value: string) => {
    if (value === '') return `${column}:missing_value`;
    if (value.includes('\u0000')) return `${column}:invalid_character`;
    if (!/^[+-]?\d+$/.test(value) || BigInt(value) < 1n || BigInt(value) > 2147483647n)
      return `${column}:invalid_integer`;
    return null;
  };
  const idProblem = integer('id', id);
  if (fields[0].includes('\uFFFD')) return 'id:invalid_encoding';
  if (idProblem) return idProblem;
  if (fields[1].includes('\uFFFD')) return 'name:invalid_encoding';
  if (name === '') return 'name:missing_value';
  if (name.includes('\u0000')) return 'name:invalid_character';
  if ([...name].length > 200) return 'name:too_long';
  if (fields[2].includes('\uFFFD')) return 'datetime:invalid_encoding';
  if (datetime === '') return 'datetime:missing_value';
  if (datetime.includes('\u0000')) return 'datetime:invalid_character';
  if (!referenceDatetime(datetime)) return 'datetime:invalid_datetime';
  if (fields[3].includes('\uFFFD')) return 'department_id:invalid_encoding';
  const d = integer('department_id', department);
  if (d) return d;
  if (fields[4].includes('\uFFFD')) return 'job_id:invalid_encoding';
  return integer('job_id', job) ?? 'ok';
}

function referenceDatetime(value: string): boolean {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-](\d\d):(\d\d))$/.exec(value);
  if (!m || (m[7] && m[7].length > 10)) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  const real =
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    h < 24 &&
    mi < 60 &&
    s < 60;
  if (!real) return false;
  const utc = new Date(Date.parse(value.replace(/(\.\d{3})\d+/, '$1')));
  return utc.getUTCFullYear() >= 1000 && utc.getUTCFullYear() <= 9999;
}

const integerLike = fc.oneof(
  fc.integer({ min: -5, max: 3_000_000_000 }).map(String),
  fc.constantFrom(
    '',
    ' ',
    '0',
    '007',
    '2147483647',
    '2147483648',
    '1.5',
    '1e3',
    '+4',
    ' 12 ',
    '\u0000',
    '\uFFFD',
  ),
  fc.string({ maxLength: 6 }),
);
const datetimeLike = fc.oneof(
  fc
    .date({ min: new Date('0900-01-01'), max: new Date('9999-12-31'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc
    .tuple(
      fc.integer({ min: 999, max: 10000 }),
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 32 }),
      fc.integer({ min: 0, max: 25 }),
    )
    .map(
      ([y, m, d, h]) =>
        `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00Z`,
    ),
  fc.constantFrom(
    '2021-11-07T02:48:42',
    '2021-11-07T02:48:42+02:00',
    '2021-11-07T02:48:42.123456Z',
    '2021-11-07T02:48:42-23:59',
    '2021-11-07T02:48:42+24:00',
    '',
  ),
  fc.string({ maxLength: 25 }),
);
const nameLike = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ minLength: 195, maxLength: 205 }),
  fc.constantFrom('  ', 'O\'Brien, "Jr"', '😀'.repeat(200), '😀'.repeat(201), 'a\u0000b'),
);
const row = fc.oneof(
  fc.tuple(integerLike, nameLike, datetimeLike, integerLike, integerLike).map((t) => [...t]),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 7 }),
);

describe('the row validator', () => {
  it('agrees with a plain reference on arbitrary input', () => {
    fc.assert(
      fc.property(row, (fields) => {
        const result = checkFields(employees, fields);
        const got = result.ok ? 'ok' : `${result.violation.column}:${result.violation.reason}`;
        expect(got).toBe(reference(fields));
        if (result.ok) {
          expect(result.row.name).toBe(fields[1].trim());
          expect(result.row.id).toBe(Number(fields[0].trim()));
          expect(Date.parse(result.row.datetime as string)).toBe(
            Date.parse(fields[2].trim().replace(/(\.\d{3})\d+/, '$1')),
          );
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe('the UTC fast path of the datetime parser', () => {
  // 'YYYY-MM-DDTHH:MM:SS[.mmm]Z' shapes with any characters in the digit places, and the edges.
  const digitOrNot = fc.constantFrom(...'0123456789/:a '.split(''));
  const shaped = fc
    .tuple(
      fc.array(digitOrNot, { minLength: 17, maxLength: 17 }),
      fc.boolean(),
      fc.constantFrom('-', 'T', ':', '.', 'x'),
    )
    .map(([d, long, sep]) => {
      const [y1, y2, y3, y4, mo1, mo2, d1, d2, h1, h2, mi1, mi2, s1, s2, f1, f2, f3] = d;
      return `${y1}${y2}${y3}${y4}-${mo1}${mo2}-${d1}${d2}T${h1}${h2}:${mi1}${mi2}${sep === ':' ? ':' : ':'}${s1}${s2}${long ? `${sep === '.' || sep === 'x' ? sep : '.'}${f1}${f2}${f3}` : ''}Z`;
    });
  const dates = fc
    .date({ min: new Date('0900-01-01'), max: new Date('9999-12-31'), noInvalidDate: true })
    .map((d) => d.toISOString());
  const calendar = fc
    .tuple(
      fc.integer({ min: 0, max: 10000 }),
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 32 }),
    )
    .map(
      ([y, m, d]) =>
        `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T23:59:59Z`,
    );

  it('answers what the general parser answers', () => {
    fc.assert(
      fc.property(fc.oneof(shaped, dates, calendar), (value) => {
        expect(parseIsoDatetime(value)).toBe(parseGeneral(value));
      }),
      { numRuns: 20000 },
    );
    for (const edge of [
      '2000-02-29T00:00:00Z',
      '1900-02-29T00:00:00Z',
      '2024-02-29T12:00:00.999Z',
      '0999-12-31T23:59:59Z',
    ])
      expect(parseIsoDatetime(edge)).toBe(parseGeneral(edge));
  });
});
