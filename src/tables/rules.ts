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
 * The rules that need more than one row: unique primary keys (the first row of a source wins) and
 * foreign keys (a NULL in a nullable foreign-key column is not checked). Rows come in batches so
 * that each batch costs one lookup per referenced table, whatever its size, all handed to `lookUp` at
 * once (one statement on MariaDB). Keys are held in KeySets (keys.ts), so memory stays bounded for
 * every key type. Engine-free: the lookups are injected.
 */
export class RowGate {
  private readonly primary: Key | null;
  private readonly seen: KeySet | null;
  private readonly references: Reference[];

  constructor(
    private readonly table: TableDef,
    catalogue: Catalogue,
    /** Payload inserts refuse keys already in the table; historic loads and restores replace them. */
    private readonly refuseExisting: boolean,
    private readonly lookUp: KeyLookup,
    { checkReferences = true } = {},
  ) {
    this.primary = table.primary_key.length ? keyOf(table.primary_key) : null;
    this.seen = this.primary ? keySet(table, table.primary_key) : null;
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
    if (this.refuseExisting && this.primary) {
      const key = this.primary;
      requests.push({ table: this.table, columns: this.table.primary_key, keys: rows.map((r) => valuesOf(r, key)) });
    }
    const found = requests.length > 0 ? await this.lookUp(requests) : [];
    unknown.forEach(({ reference, keys }, i) => {
      for (const k of keys.list) (found[i].has(k) ? reference.present : reference.absent).add(k);
    });
    const existing = this.refuseExisting && this.primary ? found[unknown.length] : null;
    return batch.map((c) => (c.ok ? this.checkRow(c.row, existing) : c));
  }

  private checkRow(row: Row, existing: Set<KeyValue> | null): Checked {
    for (const r of this.references) {
      const k = r.key.of(row);
      if (k === null || r.present.has(k) || this.accepted(r, k)) continue;
      return refused({
        column: r.fk.columns.join(',').slice(0, 64),
        reason: 'unknown_reference',
        message: `${r.key.describe(k)} does not exist in ${r.parent.name}`,
      });
    }
    if (!this.primary) return { ok: true, row };
    const k = this.primary.of(row)!;
    if (existing?.has(k)) return refused(alreadyStored(this.table, k));
    if (!this.seen!.add(k))
      return refused({
        column: keyColumn(this.table),
        reason: 'duplicate_id',
        message: `${this.primary.describe(k)} appears more than once in this source`,
      });
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
