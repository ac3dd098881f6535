import { IdSet } from './id-set.js';
import type { ColumnDef, Row, TableDef, Value } from './types.js';

/**
 * A key's value as sets and maps hold it: for a key of one column, the column's value itself (an
 * integer key stays a number, the fast path); for several columns, the JSON text of their values.
 * Every engine answers key lookups in this form (Engine.BatchTransaction.existingKeys).
 */
export type KeyValue = string | number | boolean;

/** The KeyValue of a key's values, in the key's column order. */
export function keyValue(values: readonly Value[]): KeyValue {
  if (values.length === 1) return values[0] as KeyValue;
  return JSON.stringify(values);
}

/** The values of a KeyValue made by keyValue() for a key of `width` columns. */
export function keyValues(key: KeyValue, width: number): Value[] {
  return width === 1 ? [key] : (JSON.parse(key as string) as Value[]);
}

/** A key of a table: its primary key, a unique key, or the columns of a foreign key. */
export interface Key {
  columns: readonly string[];
  /** The row's KeyValue; null when one of the columns is NULL (such a key is never checked). */
  of(row: Row): KeyValue | null;
  /** For messages: `id 7`, `(order_id, line_no) (12, 3)`. */
  describe(key: KeyValue): string;
}

export function keyOf(columns: readonly string[]): Key {
  const describe = (key: KeyValue) =>
    columns.length === 1
      ? `${columns[0]} ${String(key)}`
      : `(${columns.join(', ')}) (${keyValues(key, columns.length)
          .map((v) => String(v))
          .join(', ')})`;
  if (columns.length === 1) {
    const [column] = columns;
    return { columns, of: (row) => row[column] as KeyValue | null, describe };
  }
  return {
    columns,
    of(row) {
      const values: Value[] = new Array(columns.length);
      for (let i = 0; i < columns.length; i++) {
        const v = row[columns[i]];
        if (v === null) return null;
        values[i] = v;
      }
      return JSON.stringify(values);
    },
    describe,
  };
}

/** A set of KeyValues in bounded memory, whatever the key. */
export interface KeySet {
  /** Adds the key; answers false when it was already there. */
  add(key: KeyValue): boolean;
  has(key: KeyValue): boolean;
  readonly size: number;
}

/**
 * The set for keys over `columns` of `table`. One `integer` column: the IdSet bitmap (a 5-million-row
 * file of dense ids needs under a megabyte). Any other key: HashKeySet, 16 bytes a key whatever its
 * width (a JS Set of 5M composite string keys would take over a gigabyte).
 */
export function keySet(table: TableDef, columns: readonly string[]): KeySet {
  if (columns.length === 1 && columnOf(table, columns[0]).type === 'integer') return new IdSet();
  return new HashKeySet();
}

function columnOf(table: TableDef, name: string): ColumnDef {
  const column = table.columns.find((c) => c.name === name);
  if (!column) throw new Error(`${table.name} has no column ${name}`);
  return column;
}

/**
 * Keys as two independent 32-bit hashes of their text, in one open-addressing table of 64-bit
 * slots. Two different keys share both hashes with a chance of about n²/2⁶⁵ (one in 1.4 million for
 * five million keys); such a key is refused as a duplicate and logged, never dropped silently.
 */
export class HashKeySet implements KeySet {
  private slots = new Uint32Array(2 * 1024);
  private mask = 1023;
  size = 0;

  add(key: KeyValue): boolean {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const [a, b] = hashes(key);
    return this.insert(a, b);
  }

  has(key: KeyValue): boolean {
    const [a, b] = hashes(key);
    for (let i = a & this.mask; ; i = (i + 1) & this.mask) {
      const x = this.slots[2 * i];
      const y = this.slots[2 * i + 1];
      if (x === 0 && y === 0) return false;
      if (x === a && y === b) return true;
    }
  }

  private insert(a: number, b: number): boolean {
    for (let i = a & this.mask; ; i = (i + 1) & this.mask) {
      const x = this.slots[2 * i];
      const y = this.slots[2 * i + 1];
      if (x === 0 && y === 0) {
        this.slots[2 * i] = a;
        this.slots[2 * i + 1] = b;
        this.size++;
        return true;
      }
      if (x === a && y === b) return false;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    this.mask = old.length - 1;
    this.size = 0;
    for (let i = 0; i < old.length; i += 2)
      if (old[i] !== 0 || old[i + 1] !== 0) this.insert(old[i], old[i + 1]);
  }
}

const PAIR = new Uint32Array(2);

/** FNV-1a and a multiplicative hash of the key's text (typed by a prefix), never both 0. */
function hashes(key: KeyValue): Uint32Array {
  const text = typeof key === 'string' ? `s${key}` : `${typeof key === 'number' ? 'n' : 'b'}${String(key)}`;
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a >>>= 0;
  b >>>= 0;
  if (a === 0 && b === 0) b = 1;
  PAIR[0] = a;
  PAIR[1] = b;
  return PAIR;
}

/** Rows in primary-key order (lock order for batch inserts); `compare` orders one column's values. */
export function sortByKey(
  rows: Row[],
  columns: readonly string[],
  compare: (column: string, a: Value, b: Value) => number,
): Row[] {
  return [...rows].sort((x, y) => {
    for (const c of columns) {
      const d = compare(c, x[c], y[c]);
      if (d !== 0) return d;
    }
    return 0;
  });
}
