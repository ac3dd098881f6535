import { AppError } from '../errors.js';
import { clip, isViolation, typeOf, violation } from './column-types.js';
import type { ColumnDef, Row, TableDef, Value } from './types.js';

/** Why a row was refused. Part of the API: keep them stable, add new ones at the end. */
export const reasons = [
  'missing_value',
  'invalid_integer',
  'too_long',
  'invalid_datetime',
  'unknown_reference',
  'duplicate_id',
  'wrong_field_count',
  'invalid_encoding',
  'unknown_field',
  'invalid_string',
  'invalid_character',
  'not_an_object',
  'invalid_number',
  'invalid_boolean',
  'invalid_date',
  'out_of_range',
  'pattern_mismatch',
  'not_allowed',
] as const;
export type Reason = (typeof reasons)[number];

export interface Violation {
  /** The column at fault, or null when the row as a whole is (field count, not an object). */
  column: string | null;
  reason: Reason;
  message: string;
}

export type Checked = { ok: true; row: Row } | { ok: false; violation: Violation };

/** One column's rules, compiled once per table: this runs for every field of millions of rows. */
interface ColumnCheck {
  name: string;
  /** A CSV field, as parsed (not trimmed). */
  text(field: string): Value | Violation;
  /** A JSON value; undefined when the key is absent. */
  json(value: unknown): Value | Violation;
}

function compile(table: TableDef, column: ColumnDef): ColumnCheck {
  const type = typeOf(column);
  const { name, nullable } = column;
  const nulls = new Set(table.csv.null_values);
  const pattern = column.pattern === undefined ? null : new RegExp(`^(?:${column.pattern})$`, 'u');
  const allowed = column.enum === undefined ? null : new Set(column.enum);
  const missing = (why: string) => violation(name, 'missing_value', `${name} is required${why}`);
  const rules = (value: Value | Violation): Value | Violation => {
    if (isViolation(value) || value === null) return value;
    if (pattern && !pattern.test(value as string))
      return violation(
        name,
        'pattern_mismatch',
        `${name} must match ${column.pattern}, got '${clip(String(value))}'`,
      );
    if (allowed && !allowed.has(value))
      return violation(
        name,
        'not_allowed',
        `${name} must be one of ${column.enum!.map(String).join(', ')}, got '${clip(String(value))}'`,
      );
    return value;
  };
  const fromText = (text: string): Value | Violation => {
    if (text === '') return nullable ? null : missing(' (empty or only spaces)');
    if (text.includes('\u0000'))
      return violation(name, 'invalid_character', `${name} contains a NUL character`);
    return rules(type.fromText(column, text));
  };
  return {
    name,
    text(field) {
      // The UTF-8 decoder replaces bytes that are not UTF-8 by U+FFFD; a field holding it was not clean text.
      if (field.includes('\uFFFD')) return violation(name, 'invalid_encoding', `${name} is not valid UTF-8`);
      const text = field.trim();
      if (nullable && (nulls.has(text) || nulls.has(field))) return null;
      return fromText(text);
    },
    json(value) {
      if (value === undefined) {
        if (column.default !== undefined) return column.default;
        return nullable ? null : missing('');
      }
      if (value === null) return nullable ? null : missing('');
      if (typeof value === 'string') return fromText(value.trim());
      return rules(type.fromJson(column, value));
    },
  };
}

interface Compiled {
  checks: ColumnCheck[];
  names: Set<string>;
  list: string;
  headerless: (fields: string[]) => Checked;
}

const compiled = new WeakMap<TableDef, Compiled>();

function compiledOf(table: TableDef): Compiled {
  let c = compiled.get(table);
  if (!c) {
    const checks = table.columns.map((column) => compile(table, column));
    const order = checks.map((_, i) => i);
    c = {
      checks,
      names: new Set(table.columns.map((x) => x.name)),
      list: table.columns.map((x) => x.name).join(', '),
      headerless: fieldsChecker(table, checks, order),
    };
    compiled.set(table, c);
  }
  return c;
}

/**
 * A checker of CSV records whose field i holds column `order[i]`: the table's column order for a file
 * without a header, the header's order otherwise.
 */
function fieldsChecker(
  table: TableDef,
  checks: ColumnCheck[],
  order: number[],
): (fields: string[]) => Checked {
  const expected = `expected ${order.length} fields (${order.map((i) => table.columns[i].csv_name).join(',')})`;
  return (fields) => {
    if (fields.length !== order.length)
      return {
        ok: false,
        violation: {
          column: null,
          reason: 'wrong_field_count',
          message: `${expected}, got ${fields.length}`,
        },
      };
    const row: Row = {};
    for (let i = 0; i < fields.length; i++) {
      const check = checks[order[i]];
      const value = check.text(fields[i]);
      if (isViolation(value)) return { ok: false, violation: value };
      row[check.name] = value;
    }
    return { ok: true, row };
  };
}

/** One CSV record of a file without a header (fields in column order) against the table's rules. */
export function checkFields(table: TableDef, fields: string[]): Checked {
  return compiledOf(table).headerless(fields);
}

/**
 * The checker for the records after a header line: each header field names a column by its csv_name
 * (in any order).
 * @throws AppError invalid_csv when the header lacks a column, names an unknown one or repeats one
 */
export function headerChecker(table: TableDef, header: string[]): (fields: string[]) => Checked {
  const { checks } = compiledOf(table);
  const byCsvName = new Map(table.columns.map((c, i) => [c.csv_name, i]));
  const order: number[] = [];
  const problems: string[] = [];
  const seen = new Set<number>();
  header.forEach((field, position) => {
    const name = field.trim();
    const index = byCsvName.get(name);
    if (index === undefined) problems.push(`field ${position + 1} '${clip(name)}' is not a column`);
    else if (seen.has(index)) problems.push(`'${name}' appears more than once`);
    else {
      seen.add(index);
      order.push(index);
    }
  });
  const missing = table.columns.filter((_, i) => !seen.has(i)).map((c) => `'${c.csv_name}'`);
  if (missing.length) problems.push(`no field for ${missing.join(', ')}`);
  if (problems.length)
    throw new AppError(
      'invalid_csv',
      `the header line of the CSV file does not match ${table.name}: ${problems.join('; ')} (expected: ${table.columns.map((c) => c.csv_name).join(',')}, in any order)`,
    );
  return fieldsChecker(table, checks, order);
}

/** One JSON row object against the table's rules; keys that are not columns are refused. */
export function checkObject(table: TableDef, value: unknown): Checked {
  const { checks, names, list } = compiledOf(table);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return {
      ok: false,
      violation: {
        column: null,
        reason: 'not_an_object',
        message: `each row must be a JSON object with ${list}`,
      },
    };
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!names.has(key)) {
      // The key is logged as the reject's column: cut, and with NUL (which PostgreSQL refuses) as U+2400.
      const shown = key.slice(0, 64).replace(/\0/g, '\u2400');
      return {
        ok: false,
        violation: violation(
          shown,
          'unknown_field',
          `'${shown}' is not a column of ${table.name}; columns: ${list}`,
        ),
      };
    }
  }
  const row: Row = {};
  for (const check of checks) {
    const v = check.json(Object.hasOwn(object, check.name) ? object[check.name] : undefined);
    if (isViolation(v)) return { ok: false, violation: v };
    row[check.name] = v;
  }
  return { ok: true, row };
}
