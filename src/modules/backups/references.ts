import type { Kysely } from 'kysely';
import type { DialectCaps } from '../../db/engine.js';
import { existingIds } from '../../db/rows.js';
import { AppError } from '../../errors.js';
import type { Catalogue } from '../../tables/catalogue.js';
import type { Row, TableDef } from '../../tables/types.js';
import { IdSet } from '../loads/id-set.js';
import { distinctValues, findOrphans } from './backups.repo.js';

/** Offending ids named in a restore_conflict (the count covers them all). */
const MAX_CONFLICT_IDS = 20;

/** One foreign key that a restore would break. */
export interface Conflict {
  /** The table and column holding the reference, and the table it names. */
  table: string;
  column: string;
  references: string;
  /** The smallest offending ids, at most 20. */
  ids: number[];
  count: number;
}

interface Link {
  child: string;
  column: string;
  parent: string;
}

/** Every foreign key that touches `table`, from the catalogue: its own, then other tables' references to it. */
function linksOf(catalogue: Catalogue, table: TableDef): { own: Link[]; children: Link[] } {
  return {
    own: table.columns
      .filter((c) => c.references)
      .map((c) => ({ child: table.name, column: c.name, parent: c.references! })),
    children: catalogue
      .referencesTo(table.name)
      .filter((r) => r.table.name !== table.name)
      .map((r) => ({ child: r.table.name, column: r.column.name, parent: table.name })),
  };
}

/** The smallest `MAX_CONFLICT_IDS` of a stream of ids, and how many there were. */
class Offenders {
  readonly seen = new IdSet();
  readonly ids: number[] = [];

  add(id: number) {
    if (!this.seen.add(id)) return;
    if (this.ids.length === MAX_CONFLICT_IDS && id > this.ids[MAX_CONFLICT_IDS - 1]) return;
    this.ids.push(id);
    this.ids.sort((a, b) => a - b);
    if (this.ids.length > MAX_CONFLICT_IDS) this.ids.pop();
  }
}

/**
 * Finds, while the rows stream in and before the writer applies them, the references a restore would
 * break: backup rows naming parents that do not exist, and child rows naming ids the backup lacks. It
 * runs before `writer.finish()` because a writer may enforce foreign keys as it applies the rows (the
 * PostgreSQL one does), which would turn a conflict into a bare database error. Self-references are
 * left to `checkReferences`, which sees the final table.
 */
export class ReferenceCheck {
  private readonly ids = new IdSet();
  private readonly own;
  private readonly children;

  constructor(
    private readonly db: Kysely<any>,
    private readonly caps: DialectCaps,
    catalogue: Catalogue,
    private readonly table: TableDef,
  ) {
    const links = linksOf(catalogue, table);
    this.own = links.own
      .filter((l) => l.parent !== table.name)
      .map((link) => ({ link, present: new IdSet(), absent: new IdSet(), offenders: new Offenders() }));
    this.children = links.children;
  }

  /** Notes a batch of valid rows: one lookup per referenced table for the ids not seen before. */
  async add(rows: Row[]): Promise<void> {
    for (const row of rows) this.ids.add(row.id as number);
    for (const { link, present, absent, offenders } of this.own) {
      const unknown = new Set<number>();
      for (const row of rows) {
        const id = row[link.column] as number;
        if (!present.has(id) && !absent.has(id)) unknown.add(id);
      }
      if (unknown.size > 0) {
        const found = await existingIds(this.db, link.parent, [...unknown], this.caps);
        for (const id of unknown) (found.has(id) ? present : absent).add(id);
      }
      for (const row of rows)
        if (absent.has(row[link.column] as number)) offenders.add(row[link.column] as number);
    }
  }

  /** @throws AppError restore_conflict when a reference would break. */
  async verify(): Promise<void> {
    const conflicts: Conflict[] = [];
    for (const { link, offenders } of this.own) {
      if (offenders.seen.size > 0) conflicts.push(conflict(link, offenders.ids, offenders.seen.size));
    }
    for (const link of this.children) {
      const offenders = new Offenders();
      for await (const id of distinctValues(this.db, link.child, link.column)) {
        if (!this.ids.has(id)) offenders.add(id);
      }
      if (offenders.seen.size > 0) conflicts.push(conflict(link, offenders.ids, offenders.seen.size));
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
  catalogue: Catalogue,
  table: TableDef,
  /** Where the table's final rows are before the job commits (BulkWriter.holder). */
  holder = table.name,
): Promise<void> {
  const { own, children } = linksOf(catalogue, table);
  const conflicts: Conflict[] = [];
  const physical = (name: string) => (name === table.name ? holder : name);
  for (const link of [...own, ...children]) {
    const { ids, count } = await findOrphans(
      db,
      physical(link.child),
      link.column,
      physical(link.parent),
      MAX_CONFLICT_IDS,
    );
    if (count > 0) conflicts.push(conflict(link, ids, count));
  }
  if (conflicts.length) throw conflictError(table, conflicts);
}

function conflict(link: Link, ids: number[], count: number): Conflict {
  return { table: link.child, column: link.column, references: link.parent, ids, count };
}

function conflictError(table: TableDef, conflicts: Conflict[]): AppError {
  const parts = conflicts.map((c) => {
    const list = `${c.ids.join(', ')}${c.count > c.ids.length ? ', …' : ''} (${c.count} in all)`;
    return c.table === table.name
      ? `the backup's ${c.table}.${c.column} names ${c.references} ids that do not exist: ${list}`
      : `${c.table}.${c.column} still refers to ${c.references} ids missing from the backup: ${list}`;
  });
  const message = `restoring ${table.name} would break references: ${parts.join('; ')}; nothing was restored`;
  return new AppError('restore_conflict', message, { details: { conflicts } });
}
