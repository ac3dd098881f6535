import type { Kysely } from 'kysely';
import type { DialectCaps, IdRequest } from '../../db/engine.js';
import { existingIds, oneByOne } from '../../db/rows.js';
import type { Row, TableDef } from '../../tables/types.js';
import type { Checked, Violation } from '../../tables/validate.js';
import { IdSet } from './id-set.js';

/** Answers, for each request, which of its ids exist in its table. */
export type IdLookup = (requests: IdRequest[]) => Promise<Set<number>[]>;

/** Looks ids up with plain queries on `db`. */
export function idsOn(db: Kysely<any>, caps: DialectCaps): IdLookup {
  return (requests) => oneByOne(requests, (table, ids) => existingIds(db, table, ids, caps));
}

/**
 * The rules that need more than one row: unique ids and foreign keys. Rows come in batches so that
 * each batch costs one lookup per referenced table, whatever its size, all handed to `lookUp` at once
 * (one statement on MariaDB). Lookups may run on another connection than the job's writes
 * (BulkJob.lookups), so a table that references itself counts the ids it has already accepted from this
 * source as present.
 */
export class RowGate {
  private readonly seen = new IdSet();
  private readonly present = new Map<string, IdSet>();
  private readonly absent = new Map<string, IdSet>();
  private readonly references;

  constructor(
    private readonly table: TableDef,
    /** Payload inserts refuse ids already in the table; historic loads and restores replace them. */
    private readonly refuseExisting: boolean,
    /** Ids that exist, per table: `idsOn` for a Kysely connection, or a batch transaction's own. */
    private readonly lookUp: IdLookup,
  ) {
    this.references = table.columns.filter((c) => c.references);
    for (const c of this.references) {
      this.present.set(c.references!, new IdSet());
      this.absent.set(c.references!, new IdSet());
    }
  }

  /** Answers, for each checked row in order, the row to write or why it is refused. */
  async check(batch: Checked[]): Promise<Checked[]> {
    const rows: Row[] = [];
    for (const c of batch) if (c.ok) rows.push(c.row);
    const unknown = this.unknownReferences(rows);
    const requests: IdRequest[] = unknown.map(({ parent, ids }) => ({ table: parent, ids: [...ids] }));
    if (this.refuseExisting) requests.push({ table: this.table.name, ids: rows.map((r) => r.id as number) });
    const found = requests.length > 0 ? await this.lookUp(requests) : [];
    unknown.forEach(({ parent, ids }, i) => {
      for (const id of ids) (found[i].has(id) ? this.present : this.absent).get(parent)!.add(id);
    });
    const existing = this.refuseExisting ? found[unknown.length] : new Set<number>();
    return batch.map((c) => (c.ok ? this.checkRow(c.row, existing) : c));
  }

  private checkRow(row: Row, existing: Set<number>): Checked {
    for (const c of this.references) {
      const id = row[c.name] as number;
      if (!this.present.get(c.references!)!.has(id) && !this.accepted(c.references!, id)) {
        return refused({
          column: c.name,
          reason: 'unknown_reference',
          message: `${c.name} ${id} does not exist in ${c.references}`,
        });
      }
    }
    const id = row.id as number;
    if (existing.has(id)) return refused(alreadyStored(this.table.name, id));
    if (!this.seen.add(id))
      return refused({
        column: 'id',
        reason: 'duplicate_id',
        message: `id ${id} appears more than once in this source`,
      });
    return { ok: true, row };
  }

  private accepted(parent: string, id: number): boolean {
    return parent === this.table.name && this.seen.has(id);
  }

  /** Per foreign key, the referenced ids of `rows` that no earlier batch has looked up. */
  private unknownReferences(rows: Row[]): { parent: string; ids: Set<number> }[] {
    const unknown: { parent: string; ids: Set<number> }[] = [];
    for (const c of this.references) {
      const parent = c.references!;
      const present = this.present.get(parent)!;
      const absent = this.absent.get(parent)!;
      const ids = new Set<number>();
      for (const row of rows) {
        const id = row[c.name] as number;
        if (!present.has(id) && !absent.has(id) && !this.accepted(parent, id)) ids.add(id);
      }
      if (ids.size > 0) unknown.push({ parent, ids });
    }
    return unknown;
  }
}

/** The violation of a row whose id is already in the table. */
export function alreadyStored(table: string, id: number): Violation {
  return { column: 'id', reason: 'duplicate_id', message: `id ${id} already exists in ${table}` };
}

function refused(violation: Violation): Checked {
  return { ok: false, violation };
}
