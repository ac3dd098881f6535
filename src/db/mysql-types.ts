import type { Value } from '../tables/types.js';
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
  type TypeMap,
} from './types.js';

/**
 * The catalogue's types on MariaDB/MySQL (mysql2 with supportBigNumbers + bigNumberStrings and
 * dateStrings: BIGINT and DECIMAL come back as text, dates and datetimes as text, DOUBLE as a number).
 * A row's varchar columns share 65535 bytes, at up to 4 a character: long strings go to text, which
 * holds 65535 bytes (16383 characters at 4 bytes each), and longer ones to mediumtext (16 MB).
 */
export function mysqlString(n: number): string {
  return n <= 1024 ? `varchar(${n})` : n <= 16383 ? 'text' : 'mediumtext';
}

/**
 * Catalogue strings compare exactly, as on SQLite and PostgreSQL: with the server's default
 * case-insensitive collation 'abc' and 'ABC' would be one key in the database and two in dataport.
 */
const EXACT = ' COLLATE utf8mb4_bin';

/** Characters a text type of MariaDB holds (at 4 bytes each). */
const TEXT_CHARS: Record<string, number> = {
  tinytext: 63,
  text: 16383,
  mediumtext: 4194303,
  longtext: 1073741823,
};

const number = (v: Value) => String(v);
const same = (v: Value) => v as string;

export const mysqlTypes: TypeMap = {
  integer: {
    sql: () => 'int',
    stores: (_c, t) => t === 'int',
    encode: () => identity,
    decode: () => decodeInteger,
    text: () => number,
  },
  bigint: {
    sql: () => 'bigint',
    stores: (_c, t) => t === 'bigint',
    encode: () => identity,
    decode: () => decodeBigint,
    text: () => same,
  },
  decimal: {
    sql: (c) => `decimal(${c.precision},${c.scale})`,
    stores: (c, t) => t === `decimal(${c.precision},${c.scale})`,
    encode: () => identity,
    decode: (c) => {
      const scale = c.scale!;
      return (v) => canonicalDecimal(String(v), scale);
    },
    text: () => same,
  },
  double: {
    sql: () => 'double',
    stores: (_c, t) => t === 'double',
    encode: () => identity,
    decode: () => decodeDouble,
    text: () => number,
  },
  boolean: {
    sql: () => 'boolean',
    stores: (_c, t) => t === 'tinyint(1)',
    encode: () => (v) => (v ? 1 : 0),
    decode: () => decodeBoolean,
    text: () => (v) => (v ? '1' : '0'),
  },
  string: {
    sql: (c) => mysqlString(c.max_length!) + EXACT,
    stores: (c, t) => holds(t, c.max_length!),
    encode: () => identity,
    decode: () => asText,
  },
  text: {
    sql: () => `longtext${EXACT}`,
    stores: (_c, t) => t === 'longtext',
    encode: () => identity,
    decode: () => asText,
  },
  date: {
    sql: () => 'date',
    stores: (_c, t) => t === 'date',
    encode: () => identity,
    decode: () => decodeDate,
    text: () => same,
  },
  datetime: {
    sql: () => 'datetime(3)',
    stores: (_c, t) => t === 'datetime(3)',
    encode: () => (v) => spacedDatetimes.encodeDatetime(v as string),
    decode: () => (v) => spacedDatetimes.decodeDatetime(v),
    text: () => (v) => spacedDatetimes.encodeDatetime(v as string) as string,
  },
};

/** Whether a reported string type holds `n` characters. */
function holds(reported: string, n: number): boolean {
  const m = /^varchar\((\d+)\)$/.exec(reported);
  if (m) return Number(m[1]) >= n;
  return (TEXT_CHARS[reported] ?? 0) >= n;
}

/** information_schema.COLUMNS.COLUMN_TYPE without display widths (MariaDB's int(11), MySQL 8's int). */
export function mysqlReportedType(columnType: string): string {
  return columnType.toLowerCase().replace(/^(int|bigint|smallint|mediumint)\(\d+\)/, '$1');
}
