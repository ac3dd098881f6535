import { parseIsoDatetime } from './datetime.js';
import type { ColumnDef, Row, TableDef } from './types.js';

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

const MAX_ID = 2147483647;
const INTEGER = /^[0-9]+$/;

function fail(column: string | null, reason: Reason, message: string): Checked {
  return { ok: false, violation: { column, reason, message } };
}

/** One CSV record (already decoded text fields) against the table's rules, in column order. */
export function checkFields(table: TableDef, fields: string[]): Checked {
  if (fields.length !== table.columns.length) {
    return fail(
      null,
      'wrong_field_count',
      `expected ${table.columns.length} fields (${table.columns.map((c) => c.name).join(',')}), got ${fields.length}`,
    );
  }
  const row: Row = {};
  for (let i = 0; i < fields.length; i++) {
    const column = table.columns[i];
    const field = fields[i];
    // The UTF-8 decoder replaces bytes that are not UTF-8 by U+FFFD; a field holding it was not clean text.
    if (field.includes('\uFFFD'))
      return fail(column.name, 'invalid_encoding', `${column.name} is not valid UTF-8`);
    const checked = checkValue(column, field);
    if (typeof checked !== 'string' && typeof checked !== 'number') return { ok: false, violation: checked };
    row[column.name] = checked;
  }
  return { ok: true, row };
}

/** One JSON row object against the table's rules; keys that are not columns are refused. */
export function checkObject(table: TableDef, value: unknown): Checked {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail(
      null,
      'not_an_object',
      `each row must be a JSON object with ${table.columns.map((c) => c.name).join(', ')}`,
    );
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!table.columns.some((c) => c.name === key)) {
      // The key is logged as the reject's column: cut, and with NUL (which PostgreSQL refuses) as U+2400.
      const shown = key.slice(0, 64).replace(/\0/g, '\u2400');
      return fail(
        shown,
        'unknown_field',
        `'${shown}' is not a column of ${table.name}; columns: ${table.columns.map((c) => c.name).join(', ')}`,
      );
    }
  }
  const row: Row = {};
  for (const column of table.columns) {
    const checked = checkValue(column, Object.hasOwn(object, column.name) ? object[column.name] : undefined);
    if (typeof checked !== 'string' && typeof checked !== 'number') return { ok: false, violation: checked };
    row[column.name] = checked;
  }
  return { ok: true, row };
}

function checkValue(column: ColumnDef, value: unknown): string | number | Violation {
  const name = column.name;
  if (value === undefined || value === null) return violation(name, 'missing_value', `${name} is required`);
  if (typeof value === 'string') {
    const text = value.trim();
    if (text === '') return violation(name, 'missing_value', `${name} is required (empty or only spaces)`);
    if (text.includes('\u0000'))
      return violation(name, 'invalid_character', `${name} contains a NUL character`);
    return checkText(column, text);
  }
  if (column.type === 'integer') {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_ID) return value;
    return violation(
      name,
      'invalid_integer',
      `${name} must be a whole number from 1 to ${MAX_ID}, got ${describe(value)}`,
    );
  }
  if (column.type === 'datetime')
    return violation(
      name,
      'invalid_datetime',
      `${name} must be an ISO-8601 string with a timezone, got ${describe(value)}`,
    );
  return violation(name, 'invalid_string', `${name} must be a string, got ${describe(value)}`);
}

// A plain function, not a closure made per value: this runs for every field of millions of rows.
function violation(column: string, reason: Reason, message: string): Violation {
  return { column, reason, message };
}

function checkText(column: ColumnDef, text: string): string | number | Violation {
  const name = column.name;
  if (column.type === 'integer') {
    const n = INTEGER.test(text) ? Number(text) : NaN;
    if (n >= 1 && n <= MAX_ID) return n;
    return violation(
      name,
      'invalid_integer',
      `${name} must be a whole number from 1 to ${MAX_ID}, got '${clip(text)}'`,
    );
  }
  if (column.type === 'datetime') {
    const iso = parseIsoDatetime(text);
    if (iso) return iso;
    return violation(
      name,
      'invalid_datetime',
      `${name} must be an ISO-8601 date and time with a timezone (e.g. 2021-11-07T02:48:42Z), got '${clip(text)}'`,
    );
  }
  // UTF-16 length bounds the count of code points, so most values need no count.
  const length = text.length > column.maxLength! ? codePoints(text) : 0;
  if (length > column.maxLength!)
    return violation(
      name,
      'too_long',
      `${name} is ${length} characters long, at most ${column.maxLength} allowed`,
    );
  return text;
}

function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return typeof value;
}
