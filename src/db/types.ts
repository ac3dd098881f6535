import type { ColumnDef, Row, TableDef, TypeName, Value } from '../tables/types.js';

/**
 * How one engine stores one catalogue type: its SQL type, how a value is bound and read back, and how
 * it is written as bulk text (LOAD DATA's TSV, COPY's CSV). One record of these per engine
 * (mysql-types.ts, postgres-types.ts, sqlite-types.ts) is that engine's whole type mapping.
 * Every function gets non-null values only; NULL is handled once, by the callers below.
 */
export interface EngineType {
  /** The column type in CREATE TABLE. */
  sql(column: ColumnDef): string;
  /** Whether a column's type, as the database reports it (see TableShape), stores this column. */
  stores(column: ColumnDef, reported: string): boolean;
  /** A canonical value as the driver wants it bound. */
  encode(column: ColumnDef): (value: Value) => unknown;
  /** A value as the driver returns it, to the canonical Value. */
  decode(column: ColumnDef): (value: unknown) => Value;
  /** A canonical value as bulk text, before the format's own escaping (strings are escaped by the writer). */
  text?(column: ColumnDef): (value: Value) => string;
}

export type TypeMap = Readonly<Record<TypeName, EngineType>>;

/** What a table looks like in the database, for the start-up comparison with the catalogue. */
export interface TableShape {
  /** By name: the type as the database reports it (lower case), and whether it takes NULL. */
  columns: Map<string, { type: string; nullable: boolean }>;
  primaryKey: string[];
  /** The columns of every index (primary key and unique keys included), in index order. */
  indexes: string[][];
}

const per = new WeakMap<TypeMap, WeakMap<TableDef, Codecs>>();

/** A table's per-column functions on one engine, made once per table (no type lookup per value). */
export interface Codecs {
  names: string[];
  encode: ((value: Value) => unknown)[];
  decode: ((value: unknown) => Value)[];
  /** Bulk text of a non-null value (see EngineType.text); undefined for strings, which the writer escapes. */
  text: (((value: Value) => string) | undefined)[];
}

export function codecsOf(types: TypeMap, table: TableDef): Codecs {
  let tables = per.get(types);
  if (!tables) per.set(types, (tables = new WeakMap()));
  let codecs = tables.get(table);
  if (!codecs) {
    const encode = table.columns.map((c) => nullable(types[c.type].encode(c)));
    const decode = table.columns.map((c) => nullable(types[c.type].decode(c)) as (v: unknown) => Value);
    codecs = {
      names: table.columns.map((c) => c.name),
      encode,
      decode,
      text: table.columns.map((c) => types[c.type].text?.(c)),
    };
    tables.set(table, codecs);
  }
  return codecs;
}

function nullable<A, B>(fn: (value: A) => B): (value: A | null | undefined) => B | null {
  return (value) => (value === null || value === undefined ? null : fn(value));
}

/** The DialectCaps members that come from a TypeMap. */
export function typeCaps(types: TypeMap) {
  return {
    columnType: (column: ColumnDef) => types[column.type].sql(column),
    encodeValue: (column: ColumnDef, value: Value) =>
      value === null ? null : types[column.type].encode(column)(value),
    decodeValue: (column: ColumnDef, value: unknown): Value =>
      value === null || value === undefined ? null : types[column.type].decode(column)(value),
  };
}

/** A row bound for the driver, in the table's column order. */
export function encodeRow(codecs: Codecs, row: Row): unknown[] {
  const out = new Array<unknown>(codecs.names.length);
  for (let i = 0; i < out.length; i++) out[i] = codecs.encode[i](row[codecs.names[i]]);
  return out;
}

const CANONICAL = new Map<number, RegExp>();

/**
 * Decimal text from a driver ('12.5', '-0.00', '007', '1e3' never) to canonical text with exactly
 * `scale` fraction digits: the form the catalogue's validation produces. Never through a float.
 */
export function canonicalDecimal(text: string, scale: number): string {
  let re = CANONICAL.get(scale);
  if (!re)
    CANONICAL.set(
      scale,
      (re = new RegExp(scale > 0 ? `^-?(?:0|[1-9][0-9]*)\\.[0-9]{${scale}}$` : '^-?(?:0|[1-9][0-9]*)$')),
    );
  if (re.test(text) && !/^-0(?:\.0*)?$/.test(text)) return text;
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?$/.exec(text.trim());
  if (!m) throw new Error(`not a decimal number: '${text}'`);
  const [, sign, whole, fraction = ''] = m;
  const digits = whole.replace(/^0+/, '') || '0';
  const frac = fraction.padEnd(scale, '0');
  if (/[1-9]/.test(frac.slice(scale)))
    throw new Error(`decimal '${text}' has more than ${scale} fraction digits`);
  const kept = frac.slice(0, scale);
  const zero = digits === '0' && !/[1-9]/.test(kept);
  return `${sign === '-' && !zero ? '-' : ''}${digits}${scale > 0 ? `.${kept}` : ''}`;
}

/** A boolean as a driver returns it: true/false, 1/0, '1'/'0', 't'/'f'. */
export function decodeBoolean(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return value !== 0 && value !== 0n;
  const s = String(value);
  return s === '1' || s === 't' || s === 'true';
}

/** A whole number as a driver returns it (number, BigInt or text) to an integer Value. */
export const decodeInteger = (value: unknown): Value => (typeof value === 'number' ? value : Number(value));

/** A whole number as a driver returns it to canonical bigint text. */
export const decodeBigint = (value: unknown): Value => (typeof value === 'string' ? value : String(value));

export const decodeDouble = (value: unknown): Value => {
  const n = typeof value === 'number' ? value : Number(value);
  return n === 0 ? 0 : n; // no negative zero, as validation
};

/** A date as text ('2021-01-31', or a datetime text whose date part it is) or a Date. */
export const decodeDate = (value: unknown): Value =>
  value instanceof Date ? value.toISOString().slice(0, 10) : String(value).slice(0, 10);

export const asText = (value: unknown): Value => (typeof value === 'string' ? value : String(value));

export const identity = (value: Value): unknown => value;

/** A ColumnDef's catalogue type for messages: `decimal(12,2)`, `string(100)`, `integer`. */
export function describeType(column: ColumnDef): string {
  if (column.type === 'decimal') return `decimal(${column.precision},${column.scale})`;
  if (column.type === 'string') return `string(${column.max_length})`;
  return column.type;
}
