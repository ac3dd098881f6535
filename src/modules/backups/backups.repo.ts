import { sql, type Kysely } from 'kysely';
import type { DialectCaps } from '../../db/engine.js';
import { columnOf } from '../../tables/catalogue.js';
import type { TableDef, Value } from '../../tables/types.js';
import type { Link } from './references.js';

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
 * Every row of the table in primary-key order, a page (an array) at a time, as the driver returns
 * them. Keyset pages (`WHERE key > last`, a row comparison for a key of several columns) rather than a
 * streamed SELECT: a driver hands a page over in one call, where a stream costs a promise per row, and
 * each page is one primary-key range read. Run inside a snapshot, the pages together are one
 * consistent read. The next page is asked for before this one is handed on, so the server reads it
 * while the caller encodes. A table without a key is streamed in pages of the same size.
 */
export async function* pageRows(
  db: Kysely<any>,
  table: TableDef,
  pageSize = PAGE_ROWS,
): AsyncGenerator<Record<string, unknown>[]> {
  const key = table.primary_key;
  if (key.length === 0) {
    let page: Record<string, unknown>[] = [];
    for await (const row of db.selectFrom(table.name).selectAll().stream(STREAM_CHUNK)) {
      page.push(row);
      if (page.length === pageSize) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
    return;
  }
  const page = (after?: Record<string, unknown>) => {
    let query = db.selectFrom(table.name).selectAll();
    for (const c of key) query = query.orderBy(c);
    if (after !== undefined) {
      query =
        key.length === 1
          ? query.where(key[0], '>', after[key[0]])
          : query.where(
              sql`(${sql.join(key.map((c) => sql.ref(c)))})`,
              '>',
              sql`(${sql.join(key.map((c) => after[c]))})`,
            );
    }
    return query.limit(pageSize).execute();
  };
  let next = page();
  try {
    for (;;) {
      const rows = await next;
      const full = rows.length === pageSize;
      if (full) next = page(rows[rows.length - 1]);
      if (rows.length > 0) yield rows;
      if (!full) return;
    }
  } finally {
    // A caller that stops early leaves a page in flight; its failure is nobody's to report.
    next.catch(() => undefined);
  }
}

/** Keys of a foreign key that name no row of its parent: the first `limit` of them and how many. */
export interface Orphans {
  keys: Value[][];
  count: number;
}

/**
 * Foreign-key values in the child with no matching parent row (NULLs are never orphans). Run inside a
 * restore's transaction, after its rows are written and before it commits, so it sees the final
 * state. The distinct values come first (an index on the columns makes that a skim of the index, a
 * dozen values for millions of rows), and only those are joined to the parent. `physical` names the
 * table that holds a catalogue table's rows before the job commits.
 */
export async function findOrphans(
  db: Kysely<any>,
  caps: DialectCaps,
  link: Link,
  physical: (table: string) => string,
  limit: number,
): Promise<Orphans> {
  const alias = (i: number) => `fk${i}`;
  const orphans = () => {
    let distinct = db
      .selectFrom(physical(link.child.name))
      .select(link.columns.map((c, i) => sql.ref(c).as(alias(i))))
      .distinct();
    for (const c of link.columns) distinct = distinct.where(c, 'is not', null);
    return db
      .selectFrom(distinct.as('d'))
      .leftJoin(`${physical(link.parent.name)} as p`, (join) => {
        let on = join.onRef(`p.${link.parentColumns[0]}`, '=', `d.${alias(0)}`);
        for (let i = 1; i < link.columns.length; i++)
          on = on.onRef(`p.${link.parentColumns[i]}`, '=', `d.${alias(i)}`);
        return on;
      })
      .where(`p.${link.parentColumns[0]}`, 'is', null);
  };
  let ordered = orphans().select(link.columns.map((_, i) => `d.${alias(i)}`));
  for (let i = 0; i < link.columns.length; i++) ordered = ordered.orderBy(`d.${alias(i)}`);
  const rows = await ordered.limit(limit).execute();
  if (rows.length === 0) return { keys: [], count: 0 };
  const [{ n }] = await orphans()
    .select((eb) => eb.fn.countAll().as('n'))
    .execute();
  const columns = link.columns.map((c) => columnOf(link.child, c));
  return {
    keys: rows.map((r) => columns.map((c, i) => caps.decodeValue(c, r[alias(i)]))),
    count: Number(n),
  };
}

/** The distinct non-NULL values of `columns` of `table`, decoded, streamed. */
export async function* distinctKeys(
  db: Kysely<any>,
  caps: DialectCaps,
  table: TableDef,
  columns: string[],
): AsyncGenerator<Value[]> {
  let query = db
    .selectFrom(table.name)
    .select(columns.map((c, i) => sql.ref(c).as(`v${i}`)))
    .distinct();
  for (const c of columns) query = query.where(c, 'is not', null);
  const defs = columns.map((c) => columnOf(table, c));
  for await (const row of query.stream(STREAM_CHUNK))
    yield defs.map((c, i) => caps.decodeValue(c, (row as Record<string, unknown>)[`v${i}`]));
}
