import { isLosslessNumber, type LosslessNumber } from 'lossless-json';
import { daysIn, parseIsoDatetime, parseZonelessDatetime } from './datetime.js';
import type { ColumnDef, TableDef, TypeName, Value } from './types.js';
import type { Reason, Violation } from './validate.js';

/**
 * One entry per column type: what the catalogue file may say about it, how CSV text and JSON values
 * become exact values, how values order, and its Avro type. Nothing else switches on type names;
 * each engine maps types in one function of its own (columnType).
 */
export interface ColumnType {
  readonly name: TypeName;
  /** File keys of this type beyond the common ones (name, type, nullable, enum, default, csv_name, references). */
  readonly keys: readonly string[];
  /** May be a column of a primary, unique or foreign key. */
  readonly keyable: boolean;
  /** Takes `min` and `max`. */
  readonly ordered: boolean;
  /** JSON numbers for it must keep every digit (JSON.parse would round them to a double). */
  readonly exact: boolean;
  /** Problems with a column's type-specific keys, as [key, message]. */
  check(column: ColumnDef): [string, string][];
  /** Text (trimmed, not empty) to a value, or why not. */
  fromText(column: ColumnDef, text: string): Value | Violation;
  /** A JSON value (not null) to a value, or why not. Strings go through fromText. */
  fromJson(column: ColumnDef, value: unknown): Value | Violation;
  compare(a: Value, b: Value): number;
  /** The Avro type (JSON form) of a non-null value; the avro module adds the null union. */
  avro(column: ColumnDef): unknown;
  /** The JSON Schema of a non-null value in a JSON row, for OpenAPI (the rules themselves are ours). */
  json(column: ColumnDef): Record<string, unknown>;
}

/**
 * The digits of a JSON number read with all of them (lossless-json's LosslessNumber), as the JSON body
 * parser hands numbers over for tables with exact columns (bigint, decimal): JSON.parse would round
 * them to a double first. Undefined for anything else.
 */
function exactNumber(value: unknown): string | undefined {
  return isLosslessNumber(value) ? (value as LosslessNumber).value : undefined;
}

export function violation(column: string, reason: Reason, message: string): Violation {
  return { column, reason, message };
}

export function isViolation(v: Value | Violation): v is Violation {
  return v !== null && typeof v === 'object';
}

export function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function describe(value: unknown): string {
  const exact = exactNumber(value);
  if (exact !== undefined) return exact;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return typeof value;
}

const INT32 = { min: -2147483648, max: 2147483647 };
const INT64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
const WHOLE = /^[+-]?[0-9]+$/;

const integer: ColumnType = {
  name: 'integer',
  keys: ['min', 'max'],
  keyable: true,
  ordered: true,
  exact: false,
  check: () => [],
  fromText(column, text) {
    const n = WHOLE.test(text) ? Number(text) : NaN;
    return inIntegerRange(column, n) ? n : integerViolation(column, `'${clip(text)}'`);
  },
  fromJson(column, value) {
    if (typeof value === 'string') return integer.fromText(column, value.trim());
    const exact = exactNumber(value);
    const n = exact !== undefined ? Number(exact) : value;
    if (typeof n === 'number' && Number.isInteger(n) && inIntegerRange(column, n)) return n;
    return integerViolation(column, describe(value));
  },
  compare: (a, b) => (a as number) - (b as number),
  avro: () => 'int',
  json: (c) => ({ type: 'integer', minimum: c.min ?? INT32.min, maximum: c.max ?? INT32.max }),
};

function inIntegerRange(column: ColumnDef, n: number): boolean {
  const min = (column.min as number | undefined) ?? INT32.min;
  const max = (column.max as number | undefined) ?? INT32.max;
  return n >= min && n <= max;
}

// Below or above min/max is invalid_integer too, as the demo catalogue's ids (min 1) always were.
function integerViolation(column: ColumnDef, got: string): Violation {
  const min = column.min ?? (column.type === 'integer' ? INT32.min : INT64.min);
  const max = column.max ?? (column.type === 'integer' ? INT32.max : INT64.max);
  return violation(
    column.name,
    'invalid_integer',
    `${column.name} must be a whole number from ${String(min)} to ${String(max)}, got ${got}`,
  );
}

const bigint: ColumnType = {
  name: 'bigint',
  keys: ['min', 'max'],
  keyable: true,
  ordered: true,
  exact: true,
  check: () => [],
  fromText(column, text) {
    if (!WHOLE.test(text)) return integerViolation(column, `'${clip(text)}'`);
    const n = BigInt(text);
    const min = column.min === undefined ? INT64.min : BigInt(column.min as string);
    const max = column.max === undefined ? INT64.max : BigInt(column.max as string);
    if (n < min || n > max) return integerViolation(column, `'${clip(text)}'`);
    return n.toString();
  },
  fromJson(column, value) {
    if (typeof value === 'string') return bigint.fromText(column, value.trim());
    const exact = exactNumber(value);
    if (exact !== undefined) return bigint.fromText(column, exact);
    if (typeof value === 'number' && Number.isSafeInteger(value))
      return bigint.fromText(column, String(value));
    return integerViolation(column, describe(value));
  },
  compare: (a, b) => compareBigint(a as string, b as string),
  avro: () => 'long',
  json: () => ({
    type: ['integer', 'string'],
    pattern: '^[+-]?[0-9]+$',
    description: '64-bit, exact: a JSON number (every digit is kept) or a digit string',
  }),
};

function compareBigint(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const DECIMAL = /^([+-]?)([0-9]*)(?:\.([0-9]*))?$/;

const decimal: ColumnType = {
  name: 'decimal',
  keys: ['precision', 'scale', 'min', 'max'],
  keyable: true,
  ordered: true,
  exact: true,
  check(column) {
    const problems: [string, string][] = [];
    const { precision, scale } = column;
    if (precision === undefined) problems.push(['precision', 'decimal needs precision (1 to 38)']);
    else if (!Number.isInteger(precision) || precision < 1 || precision > 38)
      problems.push(['precision', `precision must be a whole number from 1 to 38, got ${precision}`]);
    if (scale === undefined) problems.push(['scale', 'decimal needs scale (0 to precision)']);
    else if (!Number.isInteger(scale) || scale < 0 || (precision !== undefined && scale > precision))
      problems.push([
        'scale',
        `scale must be a whole number from 0 to precision (${precision}), got ${scale}`,
      ]);
    return problems;
  },
  fromText(column, text) {
    const m = DECIMAL.exec(text);
    const precision = column.precision!;
    const scale = column.scale!;
    if (!m || (m[2] === '' && (m[3] ?? '') === ''))
      return violation(
        column.name,
        'invalid_number',
        `${column.name} must be a decimal number such as -12.50, got '${clip(text)}'`,
      );
    const [, sign, whole, fraction = ''] = m;
    // More fraction digits than the scale is refused, never rounded; trailing zeros change nothing.
    const kept = fraction.replace(/0+$/, '');
    if (kept.length > scale)
      return violation(
        column.name,
        'invalid_number',
        `${column.name} has ${kept.length} digits after the point, at most ${scale} allowed (never rounded), got '${clip(text)}'`,
      );
    const digits = whole.replace(/^0+/, '');
    if (digits.length > precision - scale)
      return violation(
        column.name,
        'out_of_range',
        `${column.name} has ${digits.length} digits before the point, at most ${precision - scale} allowed (decimal(${precision},${scale})), got '${clip(text)}'`,
      );
    const frac = kept.padEnd(scale, '0');
    const zero = /^0*$/.test(digits + frac);
    const value = `${sign === '-' && !zero ? '-' : ''}${digits || '0'}${scale > 0 ? `.${frac}` : ''}`;
    return bounded(column, value, decimal.compare);
  },
  fromJson(column, value) {
    if (typeof value === 'string') return decimal.fromText(column, value.trim());
    const exact = exactNumber(value);
    if (exact !== undefined) return decimal.fromText(column, exact);
    if (typeof value === 'number' && Number.isFinite(value))
      return decimal.fromText(column, plainNumber(value));
    return violation(
      column.name,
      'invalid_number',
      `${column.name} must be a decimal number, got ${describe(value)}`,
    );
  },
  compare: (a, b) => compareDecimal(a as string, b as string),
  avro: (column) => ({
    type: 'bytes',
    logicalType: 'decimal',
    precision: column.precision,
    scale: column.scale,
  }),
  json: (c) => ({
    type: ['number', 'string'],
    description: `decimal(${c.precision},${c.scale}), exact: a JSON number or a string such as "-12.50"; more than ${c.scale} fraction digits is refused`,
  }),
};

/** A JS number's shortest form (String(n)) with its exponent written out: String(1e-7) is '1e-7'. */
function plainNumber(n: number): string {
  const m = /^(-?)([0-9])(?:\.([0-9]+))?e([+-][0-9]+)$/.exec(String(n));
  if (!m) return String(n);
  const [, sign, first, rest = '', exponent] = m;
  const digits = first + rest;
  const point = 1 + Number(exponent);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Canonical decimals of any scales, compared exactly. */
export function compareDecimal(a: string, b: string): number {
  const [ai, af = ''] = a.split('.');
  const [bi, bf = ''] = b.split('.');
  const width = Math.max(af.length, bf.length);
  const x = BigInt(ai + af.padEnd(width, '0'));
  const y = BigInt(bi + bf.padEnd(width, '0'));
  return x < y ? -1 : x > y ? 1 : 0;
}

const DOUBLE = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

const double: ColumnType = {
  name: 'double',
  keys: ['min', 'max'],
  keyable: false,
  ordered: true,
  exact: false,
  check: () => [],
  fromText(column, text) {
    if (!DOUBLE.test(text))
      return violation(
        column.name,
        'invalid_number',
        `${column.name} must be a number such as 1.5 or 2e-3, got '${clip(text)}'`,
      );
    return finite(column, Number(text), text);
  },
  fromJson(column, value) {
    if (typeof value === 'string') return double.fromText(column, value.trim());
    const exact = exactNumber(value);
    if (exact !== undefined) return double.fromText(column, exact);
    if (typeof value === 'number') return finite(column, value, String(value));
    return violation(
      column.name,
      'invalid_number',
      `${column.name} must be a number, got ${describe(value)}`,
    );
  },
  compare: (a, b) => (a as number) - (b as number),
  avro: () => 'double',
  json: () => ({ type: 'number' }),
};

function finite(column: ColumnDef, n: number, text: string): Value | Violation {
  if (!Number.isFinite(n))
    return violation(
      column.name,
      'out_of_range',
      `${column.name} is beyond the range of a double (about ±1.8e308), got '${clip(text)}'`,
    );
  return bounded(column, n === 0 ? 0 : n, double.compare);
}

const TRUE = new Set(['true', '1']);
const FALSE = new Set(['false', '0']);

const boolean: ColumnType = {
  name: 'boolean',
  keys: [],
  keyable: false,
  ordered: false,
  exact: false,
  check: () => [],
  fromText(column, text) {
    const t = text.toLowerCase();
    if (TRUE.has(t)) return true;
    if (FALSE.has(t)) return false;
    return violation(
      column.name,
      'invalid_boolean',
      `${column.name} must be true, false, 1 or 0, got '${clip(text)}'`,
    );
  },
  fromJson(column, value) {
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string') return boolean.fromText(column, value.trim());
    return violation(
      column.name,
      'invalid_boolean',
      `${column.name} must be true or false, got ${describe(value)}`,
    );
  },
  compare: (a, b) => Number(a) - Number(b),
  avro: () => 'boolean',
  json: () => ({ type: ['boolean', 'string'], description: 'true or false (or "true", "false", "1", "0")' }),
};

const string: ColumnType = {
  name: 'string',
  keys: ['max_length', 'pattern'],
  keyable: true,
  ordered: false,
  exact: false,
  check(column) {
    const n = column.max_length;
    if (n === undefined)
      return [['max_length', 'string needs max_length (1 to 65535); use text for unbounded text']];
    if (!Number.isInteger(n) || n < 1 || n > 65535)
      return [['max_length', `max_length must be a whole number from 1 to 65535, got ${n}`]];
    return [];
  },
  fromText(column, text) {
    const max = column.max_length!;
    // UTF-16 length bounds the count of code points, so most values need no count.
    const length = text.length > max ? codePoints(text) : 0;
    if (length > max)
      return violation(
        column.name,
        'too_long',
        `${column.name} is ${length} characters long, at most ${max} allowed`,
      );
    return text;
  },
  fromJson: (column, value) => textFromJson(string, column, value),
  compare: compareText,
  avro: () => 'string',
  json: (c) => ({
    type: 'string',
    maxLength: c.max_length,
    ...(c.pattern ? { pattern: `^(?:${c.pattern})$` } : {}),
  }),
};

/** 16 MiB of UTF-8: what every engine's text type (MariaDB longtext, PostgreSQL text) holds with room. */
export const MAX_TEXT_BYTES = 16 * 1024 * 1024;

const text: ColumnType = {
  name: 'text',
  keys: ['pattern'],
  keyable: false,
  ordered: false,
  exact: false,
  check: () => [],
  fromText(column, value) {
    if (value.length * 3 > MAX_TEXT_BYTES && Buffer.byteLength(value) > MAX_TEXT_BYTES)
      return violation(
        column.name,
        'too_long',
        `${column.name} is over 16 MiB of UTF-8, the most a text holds`,
      );
    return value;
  },
  fromJson: (column, value) => textFromJson(text, column, value),
  compare: compareText,
  avro: () => 'string',
  json: (c) => ({ type: 'string', ...(c.pattern ? { pattern: `^(?:${c.pattern})$` } : {}) }),
};

function textFromJson(type: ColumnType, column: ColumnDef, value: unknown): Value | Violation {
  if (typeof value === 'string') return type.fromText(column, value.trim());
  return violation(column.name, 'invalid_string', `${column.name} must be a string, got ${describe(value)}`);
}

/** Binary order of UTF-16 code units: the same on every engine only for keys we sort ourselves. */
function compareText(a: Value, b: Value): number {
  return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
}

function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;

const date: ColumnType = {
  name: 'date',
  keys: ['min', 'max'],
  keyable: true,
  ordered: true,
  exact: false,
  check: () => [],
  fromText(column, text) {
    const m = DATE.exec(text);
    const ok =
      m !== null &&
      Number(m[1]) >= 1000 &&
      Number(m[2]) >= 1 &&
      Number(m[2]) <= 12 &&
      Number(m[3]) >= 1 &&
      Number(m[3]) <= daysIn(Number(m[1]), Number(m[2]));
    if (!ok)
      return violation(
        column.name,
        'invalid_date',
        `${column.name} must be a real date YYYY-MM-DD from 1000-01-01 to 9999-12-31, got '${clip(text)}'`,
      );
    return bounded(column, text, compareText);
  },
  fromJson(column, value) {
    if (typeof value === 'string') return date.fromText(column, value.trim());
    return violation(
      column.name,
      'invalid_date',
      `${column.name} must be a date string YYYY-MM-DD, got ${describe(value)}`,
    );
  },
  compare: compareText,
  avro: () => ({ type: 'int', logicalType: 'date' }),
  json: () => ({ type: 'string', format: 'date' }),
};

const datetime: ColumnType = {
  name: 'datetime',
  keys: ['min', 'max', 'zone'],
  keyable: false,
  ordered: true,
  exact: false,
  check: (column) =>
    column.zone !== undefined && column.zone !== 'utc'
      ? [['zone', `zone must be utc, got '${String(column.zone)}'`]]
      : [],
  fromText(column, text) {
    const iso = parseIsoDatetime(text) ?? (column.zone === 'utc' ? parseZonelessDatetime(text) : null);
    if (iso) return bounded(column, iso, compareText);
    return violation(
      column.name,
      'invalid_datetime',
      column.zone === 'utc'
        ? `${column.name} must be an ISO-8601 date and time (e.g. 2021-11-07T02:48:42Z; without a zone, UTC), got '${clip(text)}'`
        : `${column.name} must be an ISO-8601 date and time with a timezone (e.g. 2021-11-07T02:48:42Z), got '${clip(text)}'`,
    );
  },
  fromJson(column, value) {
    if (typeof value === 'string') return datetime.fromText(column, value.trim());
    return violation(
      column.name,
      'invalid_datetime',
      `${column.name} must be an ISO-8601 string with a timezone, got ${describe(value)}`,
    );
  },
  compare: compareText,
  avro: () => ({ type: 'long', logicalType: 'timestamp-millis' }),
  json: (c) => ({
    type: 'string',
    format: 'date-time',
    description: c.zone === 'utc' ? 'ISO 8601; without a zone, UTC' : 'ISO 8601 with a zone',
  }),
};

/** A value of an ordered type against the column's min and max: out_of_range outside them. */
function bounded(
  column: ColumnDef,
  value: Value,
  compare: (a: Value, b: Value) => number,
): Value | Violation {
  if (column.min !== undefined && compare(value, column.min) < 0)
    return violation(
      column.name,
      'out_of_range',
      `${column.name} must be at least ${String(column.min)}, got ${String(value)}`,
    );
  if (column.max !== undefined && compare(value, column.max) > 0)
    return violation(
      column.name,
      'out_of_range',
      `${column.name} must be at most ${String(column.max)}, got ${String(value)}`,
    );
  return value;
}

export const columnTypes: Readonly<Record<TypeName, ColumnType>> = {
  integer,
  bigint,
  decimal,
  double,
  boolean,
  string,
  text,
  date,
  datetime,
};

export function typeOf(column: ColumnDef): ColumnType {
  return columnTypes[column.type];
}

/** How a column's type reads in messages: `decimal(12,2)`, `string(100)`, `date`. */
export function typeLabel(column: ColumnDef): string {
  if (column.precision !== undefined) return `${column.type}(${column.precision},${column.scale})`;
  if (column.max_length !== undefined) return `${column.type}(${column.max_length})`;
  return column.type;
}

/** Whether JSON rows for `table` must be read with every digit of their numbers (bigint, decimal). */
export function needsExactJson(table: TableDef): boolean {
  return table.columns.some((c) => columnTypes[c.type].exact);
}
