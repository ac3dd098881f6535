import { sql, type Kysely } from 'kysely';
import type { DialectCaps } from '../../db/engine.js';
import { columnOf } from '../../tables/catalogue.js';
import type { TableDef, Value } from '../../tables/types.js';
import type { Link } from './references.js';

/** Rows fetched per round trip by a streaming read (a cursor's page on engines that use one). */
const STREAM_CHUNK = 5000;

/** `SELECT COUNT(*)`: run in the backup's snapshot, before the rows, for the header's row count. */
export async function countRows(db: Kysely<any>, table: string): Promise<number> {
  const [{ n }] = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll().as('n'))
    .execute();
  return Number(n);
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
