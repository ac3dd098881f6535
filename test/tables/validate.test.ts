import { describe, expect, it } from 'vitest';
import { Catalogue, defaultCatalogue } from '../../src/tables/catalogue.js';
import { parseCatalogue } from '../../src/tables/catalogue-file.js';
import { parseIsoDatetime } from '../../src/tables/datetime.js';
import { checkFields, checkObject } from '../../src/tables/validate.js';

const catalogue = defaultCatalogue();
const employees = catalogue.get('hired_employees');
const departments = catalogue.get('departments');

function reasonOf(result: ReturnType<typeof checkFields>) {
  return result.ok ? 'ok' : `${result.violation.column}:${result.violation.reason}`;
}

describe('datetime', () => {
  it.each([
    ['2021-11-07T02:48:42Z', '2021-11-07T02:48:42.000Z'],
    ['2021-11-07T02:48:42.5Z', '2021-11-07T02:48:42.500Z'],
    ['2021-11-07T02:48:42.123456789Z', '2021-11-07T02:48:42.123Z'],
    ['2021-11-07T02:48:42+02:00', '2021-11-07T00:48:42.000Z'],
    ['2021-12-31T23:30:00-01:00', '2022-01-01T00:30:00.000Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
  ])('accepts %s as %s', (input, expected) => {
    expect(parseIsoDatetime(input)).toBe(expected);
  });

  it.each([
    '2021-11-07T02:48:42', // no zone
    '2021-11-07 02:48:42Z',
    '2021-02-30T10:00:00Z',
    '2023-02-29T10:00:00Z',
    '2021-13-01T00:00:00Z',
    '2021-11-07T24:00:00Z',
    '2021-11-07T02:60:00Z',
    '2021-11-07T02:48:42+25:00',
    '0999-01-01T00:00:00Z',
    '0000-01-01T23:59:59Z', // Date.UTC reads years 0..99 as 1900..1999
    '0050-06-01T00:00:00+01:00',
    '2021-11-07',
    'yesterday',
  ])('refuses %s', (input) => {
    expect(parseIsoDatetime(input)).toBeNull();
  });
});

describe('CSV fields', () => {
  const good = ['1', 'Ada Lovelace', '2021-11-07T02:48:42Z', '2', '3'];
  it('accepts a good row and trims names', () => {
    const r = checkFields(employees, ['7', '  Ada  ', '2021-11-07T02:48:42Z', '2', '3']);
    expect(r).toEqual({
      ok: true,
      row: { id: 7, name: 'Ada', datetime: '2021-11-07T02:48:42.000Z', department_id: 2, job_id: 3 },
    });
  });
  it.each([
    [['', ...good.slice(1)], 'id:missing_value'],
    [['1', '   ', ...good.slice(2)], 'name:missing_value'],
    [['abc', ...good.slice(1)], 'id:invalid_integer'],
    [['1.5', ...good.slice(1)], 'id:invalid_integer'],
    [['0', ...good.slice(1)], 'id:invalid_integer'],
    [['-3', ...good.slice(1)], 'id:invalid_integer'],
    [['2147483648', ...good.slice(1)], 'id:invalid_integer'],
    [['1', 'x'.repeat(201), ...good.slice(2)], 'name:too_long'],
    [['1', 'Ada', '2021-11-07T02:48:42', '2', '3'], 'datetime:invalid_datetime'],
    [['1', 'Ada', '2021-02-30T00:00:00Z', '2', '3'], 'datetime:invalid_datetime'],
    [['1', 'Ada', '2021-11-07T02:48:42Z', 'x', '3'], 'department_id:invalid_integer'],
    [['1', 'Ada', '2021-11-07T02:48:42Z', '2'], 'null:wrong_field_count'],
    [[...good, 'extra'], 'null:wrong_field_count'],
    [['1', 'Ad\uFFFDa', ...good.slice(2)], 'name:invalid_encoding'],
    [['1', 'Ad\u0000a', ...good.slice(2)], 'name:invalid_character'],
  ])('%j is %s', (fields, expected) => {
    expect(reasonOf(checkFields(employees, fields))).toBe(expected);
  });
  it('counts characters, not UTF-16 units, against the length limit', () => {
    expect(checkFields(departments, ['1', '😀'.repeat(100)]).ok).toBe(true);
    expect(reasonOf(checkFields(departments, ['1', '😀'.repeat(101)]))).toBe('department:too_long');
  });
});

describe('JSON objects', () => {
  const good = { id: 1, name: 'Ada', datetime: '2021-11-07T02:48:42Z', department_id: 2, job_id: 3 };
  const check = (value: unknown) => {
    const r = checkObject(employees, value);
    return r.ok ? 'ok' : `${r.violation.column}:${r.violation.reason}`;
  };
  it('accepts numbers and digit strings for integers', () => {
    expect(check(good)).toBe('ok');
    expect(check({ ...good, id: '12' })).toBe('ok');
  });
  it.each([
    [{ ...good, id: 1.5 }, 'id:invalid_integer'],
    [{ ...good, id: Infinity }, 'id:invalid_integer'],
    [{ ...good, id: true }, 'id:invalid_integer'],
    [{ ...good, id: null }, 'id:missing_value'],
    [{ ...good, name: 42 }, 'name:invalid_string'],
    [{ ...good, datetime: 1636253322000 }, 'datetime:invalid_datetime'],
    [{ ...good, extra: 1 }, 'extra:unknown_field'],
    [{ id: 1, name: 'Ada', datetime: '2021-11-07T02:48:42Z', job_id: 3 }, 'department_id:missing_value'],
    [[good], 'null:not_an_object'],
    ['text', 'null:not_an_object'],
  ])('%j is %s', (value, expected) => {
    expect(check(value)).toBe(expected);
  });
  it('treats __proto__ as an unknown field, not as a prototype', () => {
    const value = JSON.parse('{"id":1,"department":"x","__proto__":{"polluted":1}}');
    const r = checkObject(departments, value);
    expect(r.ok ? 'ok' : r.violation.reason).toBe('unknown_field');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('catalogue', () => {
  it('lists tables parents first and refuses unknown ones with the list', () => {
    expect(catalogue.names).toEqual(['departments', 'jobs', 'hired_employees']);
    expect(() => catalogue.get('nope')).toThrowError(/known tables: departments, jobs, hired_employees/);
  });
  it('orders a user-written catalogue parents first', () => {
    const own = new Catalogue(
      parseCatalogue(
        `tables:
  - name: orders
    primary_key: [id]
    columns:
      - { name: id, type: integer }
      - { name: customer_id, type: integer, references: customers.id }
  - name: customers
    primary_key: [id]
    columns: [{ name: id, type: integer }]
`,
        'own.yaml',
      ),
    );
    expect(own.names).toEqual(['customers', 'orders']);
  });
});
