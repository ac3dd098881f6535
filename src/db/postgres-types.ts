import type { ColumnDef, TypeName, Value } from '../tables/types.js';
import { spacedDatetimes } from './datetime-text.js';
import {
  asText,
  canonicalDecimal,
  decodeBigint,
  decodeBoolean,
  decodeDate,
  decodeDouble,
  decodeInteger,
  identity,
  type EngineType,
} from './types.js';

/** A PostgreSQL type also knows its array type, for statements that bind a column as one array (unnest). */
interface PgType extends EngineType {
  array(column: ColumnDef): string;
}

/**
 * The catalogue's types on PostgreSQL, read with the pool's parsers (postgres.ts): int8, numeric, date
 * and timestamp as text, int4 and float8 as numbers (float8's text is the shortest exact form).
 * Strings bind as text[] in arrays: the column's varchar(n) still checks the length.
 */
const number = (v: Value) => String(v);
const same = (v: Value) => v as string;

export const postgresTypes: Readonly<Record<TypeName, PgType>> = {
  integer: {
    sql: () => 'integer',
    stores: (_c, t) => t === 'integer',
    encode: () => identity,
    decode: () => decodeInteger,
    text: () => number,
    array: () => 'integer[]',
  },
  bigint: {
    sql: () => 'bigint',
    stores: (_c, t) => t === 'bigint',
    encode: () => identity,
    decode: () => decodeBigint,
    text: () => same,
    array: () => 'bigint[]',
  },
  decimal: {
    sql: (c) => `numeric(${c.precision},${c.scale})`,
    stores: (c, t) => t === `numeric(${c.precision},${c.scale})`,
    encode: () => identity,
    decode: (c) => {
      const scale = c.scale!;
      return (v) => canonicalDecimal(String(v), scale);
    },
    text: () => same,
    array: () => 'numeric[]',
  },
  double: {
    sql: () => 'double precision',
    stores: (_c, t) => t === 'double precision',
    encode: () => identity,
    decode: () => decodeDouble,
    text: () => number,
    array: () => 'double precision[]',
  },
  boolean: {
    sql: () => 'boolean',
    stores: (_c, t) => t === 'boolean',
    encode: () => identity,
    decode: () => decodeBoolean,
    text: () => (v) => (v ? 't' : 'f'),
    array: () => 'boolean[]',
  },
  string: {
    sql: (c) => `varchar(${c.max_length})`,
    stores: (c, t) => {
      const m = /^character varying\((\d+)\)$/.exec(t);
      return t === 'text' || (m !== null && Number(m[1]) >= c.max_length!);
    },
    encode: () => identity,
    decode: () => asText,
    array: () => 'text[]',
  },
  text: {
    sql: () => 'text',
    stores: (_c, t) => t === 'text',
    encode: () => identity,
    decode: () => asText,
    array: () => 'text[]',
  },
  date: {
    sql: () => 'date',
    stores: (_c, t) => t === 'date',
    encode: () => identity,
    decode: () => decodeDate,
    text: () => same,
    array: () => 'date[]',
  },
  datetime: {
    sql: () => 'timestamp(3)',
    stores: (_c, t) => t === 'timestamp(3) without time zone',
    encode: () => (v) => spacedDatetimes.encodeDatetime(v as string),
    decode: () => (v) => spacedDatetimes.decodeDatetime(v),
    text: () => (v) => spacedDatetimes.encodeDatetime(v as string) as string,
    array: () => 'timestamp(3)[]',
  },
};
