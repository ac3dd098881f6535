import type { Value } from '../tables/types.js';
import {
  asText,
  canonicalDecimal,
  decodeBigint,
  decodeBoolean,
  decodeDouble,
  decodeInteger,
  identity,
  type TypeMap,
} from './types.js';

/**
 * The catalogue's types on SQLite. bigint is declared `bigint` (INTEGER affinity, 64 bits exact): the
 * engine reads columns declared so with better-sqlite3's safeIntegers, as text (sqlite.ts). decimal is
 * TEXT (exact, canonical), boolean INTEGER 0/1, dates and datetimes ISO TEXT (fixed width: they sort
 * and compare in time order, and strftime() reads them). Strings are TEXT: dataport checks the length.
 */
const decimalText = (c: { scale?: number }) => {
  const scale = c.scale!;
  return (v: unknown): Value => canonicalDecimal(String(v), scale);
};

const declared = (name: string) => (_c: unknown, reported: string) => reported === name;

export const sqliteTypes: TypeMap = {
  integer: {
    sql: () => 'integer',
    stores: declared('integer'),
    encode: () => identity,
    decode: () => decodeInteger,
  },
  // Bound as BigInt: a string would be stored exactly too (INTEGER affinity), but a BigInt says what it is.
  bigint: {
    sql: () => 'bigint',
    stores: declared('bigint'),
    encode: () => (v) => BigInt(v as string),
    decode: () => decodeBigint,
  },
  decimal: { sql: () => 'text', stores: declared('text'), encode: () => identity, decode: decimalText },
  double: { sql: () => 'real', stores: declared('real'), encode: () => identity, decode: () => decodeDouble },
  boolean: {
    sql: () => 'integer',
    stores: declared('integer'),
    encode: () => (v) => (v ? 1 : 0),
    decode: () => decodeBoolean,
  },
  string: { sql: () => 'text', stores: declared('text'), encode: () => identity, decode: () => asText },
  text: { sql: () => 'text', stores: declared('text'), encode: () => identity, decode: () => asText },
  date: { sql: () => 'text', stores: declared('text'), encode: () => identity, decode: () => asText },
  datetime: { sql: () => 'text', stores: declared('text'), encode: () => identity, decode: () => asText },
};
