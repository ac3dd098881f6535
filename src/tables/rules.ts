import type { KeyRequest } from '../db/engine.js';
import type { Catalogue } from './catalogue.js';
import { keyOf, keySet, type Key, type KeySet, type KeyValue } from './keys.js';
import type { ForeignKey, Row, TableDef, Value } from './types.js';
import type { Checked, Violation } from './validate.js';

/** Answers, for each request, which of its keys exist in its table. */
export type KeyLookup = (requests: KeyRequest[]) => Promise<Set<KeyValue>[]>;

interface Reference {
  fk: ForeignKey;
  parent: TableDef;
  /** The child's columns. */
  key: Key;
  /** A table that references its own primary key: rows accepted from this source count as present. */
  own: boolean;
  present: KeySet;
  absent: KeySet;
}

/**
 * What a source does to rows already in the table: a batch insert refuses their keys, a historic load
 * upserts by primary key, a restore (or the load of a table without a key) replaces them all.
 */
export type Existing = 'refuse' | 'upsert' | 'replace';

interface Unique {
  key: Key;
  seen: KeySet;
  /** The unique columns and the primary key's: the same row when an upsert finds both. */
  withPrimary: Key | null;
}

/**
 * The rules that need more than one row: unique primary and unique keys (the first row of a source
 * wins; a NULL in a unique key is never a duplicate) and foreign keys (a NULL in a nullable foreign-key
 * column is not checked). Rows come in batches so
 * that each batch costs one lookup per referenced table, whatever its size, all handed to `lookUp` at
 * once (one statement on MariaDB). Keys are held in KeySets (keys.ts), so memory stays bounded for
 * every key type. Engine-free: the lookups are injected.
 */
export class RowGate {
  private readonly primary: Key | null;
  private readonly seen: KeySet | null;
  private readonly uniques: Unique[];
  private readonly references: Reference[];

  constructor(
    private readonly table: TableDef,
    catalogue: Catalogue,
    private readonly existing: Existing,
    private readonly lookUp: KeyLookup,
    { checkReferences = true } = {},
  ) {
    this.primary = table.primary_key.length ? keyOf(table.primary_key) : null;
    this.seen = this.primary ? keySet(table, table.primary_key) : null;
    this.uniques = table.unique.map((columns) => ({
      key: keyOf(columns),
      seen: keySet(table, columns),
      withPrimary:
        existing === 'upsert' && this.primary
          ? keyOf([...columns, ...table.primary_key.filter((c) => !columns.includes(c))])
          : null,
    }));
    this.references = checkReferences
      ? table.foreign_keys.map((fk) => {
          const parent = catalogue.get(fk.references.table);
          return {
            fk,
            parent,
            key: keyOf(fk.columns),
            own: parent.name === table.name && sameColumns(fk.references.columns, table.primary_key),
            present: keySet(parent, fk.references.columns),
            absent: keySet(parent, fk.references.columns),
          };
        })
      : [];
  }

  /** Answers, for each checked row in order, the row to write or why it is refused. */
  async check(batch: Checked[]): Promise<Checked[]> {
    const rows: Row[] = [];
    for (const c of batch) if (c.ok) rows.push(c.row);
    const unknown = this.unknownReferences(rows);
    const requests: KeyRequest[] = unknown.map(({ reference, keys }) => ({
      table: reference.parent,
      columns: reference.fk.references.columns,
      keys: keys.values,
    }));
    const refuse = this.existing === 'refuse';
    const ask = (key: Key) =>
      requests.push({ table: this.table, columns: [...key.columns], keys: keyValuesOf(rows, key) });
    if (refuse && this.primary) ask(this.primary);
    const checkStored = this.existing !== 'replace';
    if (checkStored) for (const u of this.uniques) ask(u.key);
    const found = requests.length > 0 ? await this.lookUp(requests) : [];
    unknown.forEach(({ reference, keys }, i) => {
      for (const k of keys.list) (found[i].has(k) ? reference.present : reference.absent).add(k);
    });
    let next = unknown.length;
    const existing = refuse && this.primary ? found[next++] : null;
    // A unique key already stored is taken, unless an upsert replaces the very row that holds it.
    const taken: ((row: Row, value: KeyValue) => boolean)[] = [];
    for (const u of this.uniques) {
      const stored = checkStored ? found[next++] : null;
      if (!stored || stored.size === 0) taken.push(() => false);
      else if (!u.withPrimary) taken.push((_, v) => stored.has(v));
      else {
        const withPrimary = u.withPrimary;
        const candidates = rows.filter((r) => stored.has(u.key.of(r)!));
        const [same] = await this.lookUp([
          {
            table: this.table,
            columns: [...withPrimary.columns],
            keys: keyValuesOf(candidates, withPrimary),
          },
        ]);
        taken.push((row, v) => stored.has(v) && !same.has(withPrimary.of(row)!));
      }
    }
    return batch.map((c) => (c.ok ? this.checkRow(c.row, existing, taken) : c));
  }

  private checkRow(
    row: Row,
    existing: Set<KeyValue> | null,
    taken: ((row: Row, value: KeyValue) => boolean)[],
  ): Checked {
    for (const r of this.references) {
      const k = r.key.of(row);
      if (k === null || r.present.has(k) || this.accepted(r, k)) continue;
      return refused({
        column: r.fk.columns.join(',').slice(0, 64),
        reason: 'unknown_reference',
        message: `${r.key.describe(k)} does not exist in ${r.parent.name}`,
      });
    }
    const k = this.primary?.of(row) ?? null;
    if (k !== null && existing?.has(k)) return refused(alreadyStored(this.table, k));
    if (k !== null && this.seen!.has(k)) return refused(repeated(this.primary!, k));
    // A row refused for a unique key must not hold its primary key (nor other unique values) for later rows.
    const values: (KeyValue | null)[] = this.uniques.map((u) => u.key.of(row));
    for (let i = 0; i < this.uniques.length; i++) {
      const u = this.uniques[i];
      const v = values[i];
      if (v === null) continue;
      if (taken[i](row, v))
        return refused({
          column: u.key.columns.join(',').slice(0, 64),
          reason: 'duplicate_id',
          message: `${u.key.describe(v)} already exists in ${this.table.name} (a unique key)`,
        });
      if (u.seen.has(v)) return refused(repeated(u.key, v));
    }
    for (let i = 0; i < this.uniques.length; i++)
      if (values[i] !== null) this.uniques[i].seen.add(values[i]!);
    if (k !== null) this.seen!.add(k);
    return { ok: true, row };
  }

  private accepted(r: Reference, k: KeyValue): boolean {
    return r.own && this.seen!.has(k);
  }

  /** Per foreign key, the referenced keys of `rows` that no earlier batch has looked up. */
  private unknownReferences(rows: Row[]) {
    const unknown: { reference: Reference; keys: { list: KeyValue[]; values: Value[][] } }[] = [];
    for (const reference of this.references) {
      const list: KeyValue[] = [];
      const values: Value[][] = [];
      const asked = new Set<KeyValue>();
      for (const row of rows) {
        const k = reference.key.of(row);
        if (k === null || asked.has(k) || reference.present.has(k) || reference.absent.has(k)) continue;
        if (this.accepted(reference, k)) continue;
        asked.add(k);
        list.push(k);
        values.push(valuesOf(row, reference.key));
      }
      if (list.length > 0) unknown.push({ reference, keys: { list, values } });
    }
    return unknown;
  }
}

/** The violation of a row whose primary key is already in the table. */
export function alreadyStored(table: TableDef, key: KeyValue): Violation {
  return {
    column: keyColumn(table),
    reason: 'duplicate_id',
    message: `${keyOf(table.primary_key).describe(key)} already exists in ${table.name}`,
  };
}

function repeated(key: Key, k: KeyValue): Violation {
  return {
    column: key.columns.join(',').slice(0, 64),
    reason: 'duplicate_id',
    message: `${key.describe(k)} appears more than once in this source`,
  };
}

/** The values of `key` in each row that has no NULL in it. */
function keyValuesOf(rows: Row[], key: Key): Value[][] {
  const out: Value[][] = [];
  for (const r of rows) if (key.of(r) !== null) out.push(valuesOf(r, key));
  return out;
}

/** The reject log's column for a key's violation: its columns, comma-separated. */
function keyColumn(table: TableDef): string {
  return table.primary_key.join(',').slice(0, 64);
}

function valuesOf(row: Row, key: Key): Value[] {
  return key.columns.map((c) => row[c]);
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}

function refused(violation: Violation): Checked {
  return { ok: false, violation };
}
