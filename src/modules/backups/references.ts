import type { Kysely } from 'kysely';
import type { DialectCaps } from '../../db/engine.js';
import { existingKeys } from '../../db/rows.js';
import { AppError } from '../../errors.js';
import { columnOf, type Catalogue } from '../../tables/catalogue.js';
import { typeOf } from '../../tables/column-types.js';
import {
  keyOf,
  keySet,
  keyValue,
  keyValues,
  type Key,
  type KeySet,
  type KeyValue,
} from '../../tables/keys.js';
import type { Row, TableDef, Value } from '../../tables/types.js';
import { distinctKeys, findOrphans } from './backups.repo.js';

/** Offending keys named in a restore_conflict (the count covers them all). */
const MAX_CONFLICT_IDS = 20;

/** One foreign key that a restore would break. */
export interface Conflict {
  /** The table and column(s) holding the reference (comma-separated), and the table it names. */
  table: string;
  column: string;
  references: string;
  /** The smallest offending values (arrays for a key of several columns), at most 20. */
  ids: (Value | Value[])[];
  count: number;
}

/** A foreign key: `child`'s `columns` name `parent`'s `parentColumns`. */
export interface Link {
  child: TableDef;
  columns: string[];
  parent: TableDef;
  parentColumns: string[];
}

/** Every foreign key that touches `table`, from the catalogue: its own, then other tables' references to it. */
function linksOf(catalogue: Catalogue, table: TableDef): { own: Link[]; children: Link[] } {
  return {
    own: table.foreign_keys.map((fk) => ({
      child: table,
      columns: fk.columns,
      parent: catalogue.get(fk.references.table),
      parentColumns: fk.references.columns,
    })),
    children: catalogue
      .referencesTo(table.name)
      .filter((r) => r.table.name !== table.name)
      .map((r) => ({
        child: r.table,
        columns: r.key.columns,
        parent: table,
        parentColumns: r.key.references.columns,
      })),
  };
}

/** Orders KeyValues of a key over `columns` of `table` by the columns' types. */
function keyOrder(table: TableDef, columns: string[]): (a: KeyValue, b: KeyValue) => number {
  const types = columns.map((c) => typeOf(columnOf(table, c)));
  return (a, b) => {
    const x = keyValues(a, columns.length);
    const y = keyValues(b, columns.length);
    for (let i = 0; i < types.length; i++) {
      const d = types[i].compare(x[i], y[i]);
      if (d !== 0) return d;
    }
    return 0;
  };
}

/** The smallest `MAX_CONFLICT_IDS` of a stream of keys, and how many there were. */
class Offenders {
  readonly seen: KeySet;
  readonly keys: KeyValue[] = [];
  private readonly order: (a: KeyValue, b: KeyValue) => number;

  constructor(
    table: TableDef,
    private readonly columns: string[],
  ) {
    this.seen = keySet(table, columns);
    this.order = keyOrder(table, columns);
  }

  add(key: KeyValue) {
    if (!this.seen.add(key)) return;
    const full = this.keys.length === MAX_CONFLICT_IDS;
    if (full && this.order(key, this.keys[MAX_CONFLICT_IDS - 1]) > 0) return;
    this.keys.push(key);
    this.keys.sort(this.order);
    if (this.keys.length > MAX_CONFLICT_IDS) this.keys.pop();
  }

  shown(): (Value | Value[])[] {
    return this.keys.map((k) => (this.columns.length === 1 ? k : keyValues(k, this.columns.length)));
  }
}

/**
 * Finds, while the rows stream in and before the writer applies them, the references a restore would
 * break: backup rows naming parents that do not exist, and child rows naming keys the backup lacks. It
 * runs before `writer.finish()` because a writer may enforce foreign keys as it applies the rows (the
 * PostgreSQL one does), which would turn a conflict into a bare database error. Self-references are
 * left to `checkReferences`, which sees the final table.
 */
export class ReferenceCheck {
  private readonly own;
  private readonly children;
  /** Per referenced column list of the table (its primary key, a unique key), the backup's keys. */
  private readonly restored = new Map<string, { key: Key; set: KeySet }>();

  constructor(
    private readonly db: Kysely<any>,
    private readonly caps: DialectCaps,
    catalogue: Catalogue,
    private readonly table: TableDef,
  ) {
    const links = linksOf(catalogue, table);
    this.own = links.own
      .filter((l) => l.parent.name !== table.name)
      .map((link) => ({
        link,
        key: keyOf(link.columns),
        present: keySet(link.parent, link.parentColumns),
        absent: keySet(link.parent, link.parentColumns),
        offenders: new Offenders(link.child, link.columns),
      }));
    this.children = links.children;
    for (const link of this.children) {
      const id = link.parentColumns.join(',');
      if (!this.restored.has(id))
        this.restored.set(id, { key: keyOf(link.parentColumns), set: keySet(table, link.parentColumns) });
    }
  }

  /** Notes a batch of valid rows: one lookup per referenced table for the keys not seen before. */
  async add(rows: Row[]): Promise<void> {
    for (const { key, set } of this.restored.values())
      for (const row of rows) {
        const k = key.of(row);
        if (k !== null) set.add(k);
      }
    for (const { link, key, present, absent, offenders } of this.own) {
      const unknown = new Map<KeyValue, Value[]>();
      for (const row of rows) {
        const k = key.of(row);
        if (k !== null && !present.has(k) && !absent.has(k) && !unknown.has(k))
          unknown.set(
            k,
            link.columns.map((c) => row[c]),
          );
      }
      if (unknown.size > 0) {
        const found = await existingKeys(this.db, this.caps, {
          table: link.parent,
          columns: link.parentColumns,
          keys: [...unknown.values()],
        });
        for (const k of unknown.keys()) (found.has(k) ? present : absent).add(k);
      }
      for (const row of rows) {
        const k = key.of(row);
        if (k !== null && absent.has(k)) offenders.add(k);
      }
    }
  }

  /** @throws AppError restore_conflict when a reference would break. */
  async verify(): Promise<void> {
    const conflicts: Conflict[] = [];
    for (const { link, offenders } of this.own) {
      if (offenders.seen.size > 0) conflicts.push(conflict(link, offenders));
    }
    for (const link of this.children) {
      const restored = this.restored.get(link.parentColumns.join(','))!.set;
      const offenders = new Offenders(link.child, link.columns);
      for await (const values of distinctKeys(this.db, this.caps, link.child, link.columns)) {
        const k = keyValue(values);
        if (!restored.has(k)) offenders.add(k);
      }
      if (offenders.seen.size > 0) conflicts.push(conflict(link, offenders));
    }
    if (conflicts.length) throw conflictError(this.table, conflicts);
  }
}

/**
 * The final word, in SQL, inside the job's transaction after the rows are written and before it
 * commits: every foreign key touching `table` (self-references included) is checked with an anti-join
 * on the table as it now is. Engines that switch foreign-key checks off for the swap rely on this.
 * @throws AppError restore_conflict
 */
export async function checkReferences(
  db: Kysely<any>,
  caps: DialectCaps,
  catalogue: Catalogue,
  table: TableDef,
  /** Where the table's final rows are before the job commits (BulkWriter.holder). */
  holder = table.name,
): Promise<void> {
  const { own, children } = linksOf(catalogue, table);
  const conflicts: Conflict[] = [];
  const physical = (name: string) => (name === table.name ? holder : name);
  for (const link of [...own, ...children]) {
    const { keys, count } = await findOrphans(db, caps, link, physical, MAX_CONFLICT_IDS);
    if (count > 0) {
      const offenders = new Offenders(link.child, link.columns);
      for (const values of keys) offenders.add(keyValue(values));
      conflicts.push({ ...conflict(link, offenders), count });
    }
  }
  if (conflicts.length) throw conflictError(table, conflicts);
}

function conflict(link: Link, offenders: Offenders): Conflict {
  return {
    table: link.child.name,
    column: link.columns.join(','),
    references: link.parent.name,
    ids: offenders.shown(),
    count: offenders.seen.size,
  };
}

function conflictError(table: TableDef, conflicts: Conflict[]): AppError {
  const parts = conflicts.map((c) => {
    const shown = c.ids.map((v) => (Array.isArray(v) ? `(${v.join(', ')})` : String(v)));
    const list = `${shown.join(', ')}${c.count > c.ids.length ? ', …' : ''} (${c.count} in all)`;
    return c.table === table.name
      ? `the backup's ${c.table}.${c.column} names ${c.references} keys that do not exist: ${list}`
      : `${c.table}.${c.column} still refers to ${c.references} keys missing from the backup: ${list}`;
  });
  const message = `restoring ${table.name} would break references: ${parts.join('; ')}; nothing was restored`;
  return new AppError('restore_conflict', message, { details: { conflicts } });
}
