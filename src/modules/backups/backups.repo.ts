import { sql, type Kysely } from 'kysely';

/** Rows fetched per round trip by a streaming read (a cursor's page on engines that use one). */
const STREAM_CHUNK = 5000;
/** Rows per page of a paged read: large enough that a query's own cost vanishes, small enough to hold. */
const PAGE_ROWS = 5000;

/** `SELECT COUNT(*)`: run in the backup's snapshot, before the rows, for the header's row count. */
export async function countRows(db: Kysely<any>, table: string): Promise<number> {
  const [{ n }] = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll().as('n'))
    .execute();
  return Number(n);
}

/**
 * Every row of the table ordered by id, a page (an array) at a time, as the driver returns them. Keyset
 * pages (`WHERE id > last`) rather than a streamed SELECT: a driver hands a page over in one call, where
 * a stream costs a promise per row, and each page is one primary-key range read. Run inside a snapshot,
 * the pages together are one consistent read. The next page is asked for before this one is handed on,
 * so the server reads it while the caller encodes.
 */
export async function* pageRows(
  db: Kysely<any>,
  table: string,
  pageSize = PAGE_ROWS,
): AsyncGenerator<Record<string, unknown>[]> {
  const page = (after?: unknown) => {
    const query = db.selectFrom(table).selectAll().orderBy('id').limit(pageSize);
    return (after === undefined ? query : query.where('id', '>', after)).execute();
  };
  let next = page();
  try {
    for (;;) {
      const rows = await next;
      const full = rows.length === pageSize;
      if (full) next = page(rows[rows.length - 1].id);
      if (rows.length > 0) yield rows;
      if (!full) return;
    }
  } finally {
    // A caller that stops early leaves a page in flight; its failure is nobody's to report.
    next.catch(() => undefined);
  }
}

/** Values of `child.column` that name no row of `parent`: the first `limit` of them (smallest first) and how many. */
export interface Orphans {
  ids: number[];
  count: number;
}

/**
 * Foreign-key values in `child.column` with no matching `parent.id`. Run inside a restore's
 * transaction, after its rows are written and before it commits, so it sees the final state. The
 * distinct values come first (an index on the column makes that a skim of the index, a dozen values
 * for millions of rows), and only those are joined to the parent.
 */
export async function findOrphans(
  db: Kysely<any>,
  child: string,
  column: string,
  parent: string,
  limit: number,
): Promise<Orphans> {
  const orphans = () =>
    db
      .selectFrom(db.selectFrom(child).select(sql.ref(column).as('fk')).distinct().as('d'))
      .leftJoin(`${parent} as p`, 'p.id', 'd.fk')
      .where('p.id', 'is', null);
  const rows = await orphans().select('d.fk').orderBy('d.fk').limit(limit).execute();
  if (rows.length === 0) return { ids: [], count: 0 };
  const [{ n }] = await orphans()
    .select((eb) => eb.fn.countAll().as('n'))
    .execute();
  return { ids: rows.map((r) => Number(r.fk)), count: Number(n) };
}

/** The distinct values of `table.column`, smallest first, streamed. */
export async function* distinctValues(
  db: Kysely<any>,
  table: string,
  column: string,
): AsyncGenerator<number> {
  const query = db.selectFrom(table).select(sql.ref(column).as('v')).distinct().orderBy('v');
  for await (const row of query.stream(STREAM_CHUNK)) yield Number(row.v);
}
