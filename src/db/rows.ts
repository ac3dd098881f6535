import { sql, type CompiledQuery, type Kysely, type RawBuilder } from 'kysely';
import { typeOf } from '../tables/column-types.js';
import { keyValue, sortByKey, type KeyValue } from '../tables/keys.js';
import type { ColumnDef, Row, TableDef, Value } from '../tables/types.js';
import type { DialectCaps, KeyRequest } from './engine.js';
import { codecsOf } from './types.js';

/** A validated row as the driver wants it bound, by column name. */
export function toDbRow(table: TableDef, caps: DialectCaps, row: Row): Record<string, unknown> {
  const { names, encode } = codecsOf(caps.typeMap, table);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < names.length; i++) out[names[i]] = encode[i](row[names[i]]);
  return out;
}

/** A row as the driver returned it, back to the catalogue's canonical Row (every column, NULL as null). */
export function fromDbRow(table: TableDef, caps: DialectCaps, row: Record<string, unknown>): Row {
  const { names, decode } = codecsOf(caps.typeMap, table);
  const out: Row = {};
  for (let i = 0; i < names.length; i++) out[names[i]] = decode[i](row[names[i]]);
  return out;
}

export function columnOf(table: TableDef, name: string): ColumnDef {
  const column = table.columns.find((c) => c.name === name);
  if (!column) throw new Error(`table ${table.name} has no column ${name}`);
  return column;
}

/** The most rows one multi-row statement may carry on this engine. */
export function rowsPerStatement(table: TableDef, caps: DialectCaps): number {
  return Math.max(1, Math.min(1000, Math.floor(caps.maxBindParams / table.columns.length)));
}

/**
 * Inserts rows with multi-row statements. `upsert`: a row whose primary key exists replaces it (a table
 * without a primary key just gets the rows appended).
 */
export async function insertRows(
  db: Kysely<any>,
  caps: DialectCaps,
  table: TableDef,
  rows: Row[],
  { upsert = false } = {},
): Promise<void> {
  const size = rowsPerStatement(table, caps);
  const key = table.primary_key;
  const others = table.columns.map((c) => c.name).filter((c) => !key.includes(c));
  for (let i = 0; i < rows.length; i += size) {
    const values = rows.slice(i, i + size).map((r) => toDbRow(table, caps, r));
    let query = db.insertInto(table.name).values(values);
    if (upsert && key.length > 0) {
      if (caps.upsert === 'on_conflict')
        query = query.onConflict((oc) => {
          const target = oc.columns(key as never[]);
          return others.length
            ? target.doUpdateSet(Object.fromEntries(others.map((c) => [c, sql.ref(`excluded.${c}`)])))
            : target.doNothing();
        });
      else
        query = others.length
          ? query.onDuplicateKeyUpdate(Object.fromEntries(others.map((c) => [c, sql`values(${sql.ref(c)})`])))
          : query.ignore();
    }
    await query.execute();
  }
}

/** The KeyValues of `keys` (canonical values of `columns`), skipping keys with a NULL (never checked). */
export function askedKeys(keys: readonly Value[][]): Set<KeyValue> {
  const asked = new Set<KeyValue>();
  for (const k of keys) if (!k.includes(null)) asked.add(keyValue(k));
  return asked;
}

/**
 * Which of a request's keys exist, on any Kysely connection (historic loads' reference checks, restores):
 * `IN (…)` for one column, a row-value list for several, in chunks under the bind limit. Values found
 * are decoded, so the KeyValues match keyOf(columns).of(row) of canonical rows.
 */
export async function existingKeys(
  db: Kysely<any>,
  caps: DialectCaps,
  request: KeyRequest,
): Promise<Set<KeyValue>> {
  const { table, columns } = request;
  const defs = columns.map((c) => columnOf(table, c));
  const keys = request.keys.filter((k) => !k.includes(null));
  const found = new Set<KeyValue>();
  const size = Math.max(1, Math.floor(Math.min(1000 * columns.length, caps.maxBindParams) / columns.length));
  const refs = sql.join(columns.map((c) => sql.ref(c)));
  for (let i = 0; i < keys.length; i += size) {
    const chunk = keys.slice(i, i + size);
    const tuples = chunk.map((k) => sql`(${sql.join(k.map((v, j) => caps.encodeValue(defs[j], v)))})`);
    const where: RawBuilder<unknown> =
      columns.length === 1
        ? sql`${sql.ref(columns[0])} IN (${sql.join(chunk.map((k) => caps.encodeValue(defs[0], k[0])))})`
        : caps.rowValueList === 'values'
          ? sql`(${refs}) IN (VALUES ${sql.join(tuples)})`
          : sql`(${refs}) IN (${sql.join(tuples)})`;
    const { rows } = await sql<
      Record<string, unknown>
    >`SELECT ${refs} FROM ${sql.table(table.name)} WHERE ${where}`.execute(db);
    for (const r of rows) found.add(keyValue(defs.map((d) => caps.decodeValue(d, r[d.name]))));
  }
  const asked = askedKeys(keys);
  for (const k of found) if (!asked.has(k)) found.delete(k);
  return found;
}

/**
 * The span of `ids` when it is dense enough (a batch's ids mostly follow one another) to read with one
 * range scan of the primary key instead of one index descent per id: 1000 descents cost MariaDB a
 * quarter of what the batch's insert does, the range next to nothing. The range reads at most twice as
 * many keys as there are ids; null otherwise. Callers keep only the ids asked for.
 */
export function denseSpan(ids: number[]): { min: number; max: number } | null {
  if (ids.length === 0) return null;
  let min = ids[0];
  let max = ids[0];
  for (const id of ids) {
    if (id < min) min = id;
    else if (id > max) max = id;
  }
  return max - min < 2 * ids.length ? { min, max } : null;
}

/** The integer values of a one-column request on an integer column (the fast paths), else null. */
export function integerKeys(request: KeyRequest): number[] | null {
  if (request.columns.length !== 1 || columnOf(request.table, request.columns[0]).type !== 'integer')
    return null;
  const ids: number[] = [];
  for (const [v] of request.keys) if (v !== null) ids.push(v as number);
  return ids;
}

/**
 * Keys among `ids` that exist, for an integer key: one range read when the ids are dense (denseSpan),
 * else the engine's list form; only the ids asked for are kept.
 */
export async function lookUpIds(
  trx: Kysely<any>,
  ids: number[],
  range: (min: number, max: number) => CompiledQuery,
  list: (ids: number[]) => CompiledQuery,
): Promise<Set<KeyValue>> {
  if (ids.length === 0) return new Set();
  const span = denseSpan(ids);
  const { rows } = await trx.executeQuery<{ k: unknown }>(span ? range(span.min, span.max) : list(ids));
  return askedIds(
    rows.map((r) => r.k),
    ids,
  );
}

/** The ids among `found` (as the driver returned them) that were asked for. */
export function askedIds(found: unknown[], ids: number[]): Set<KeyValue> {
  const asked = new Set(ids);
  const out = new Set<KeyValue>();
  for (const v of found) {
    const id = Number(v);
    if (asked.has(id)) out.add(id);
  }
  return out;
}

/** Answers KeyRequests with one lookup each, in order. */
export async function oneByOne(
  requests: KeyRequest[],
  lookUp: (request: KeyRequest) => Promise<Set<KeyValue>>,
): Promise<Set<KeyValue>[]> {
  const found: Set<KeyValue>[] = [];
  for (const request of requests) found.push(await lookUp(request));
  return found;
}

/** Drops the `dataport_stage_*` tables that `names` lists (a killed job's leftovers); answers how many. */
export async function dropStages(db: Kysely<any>, names: { name: string }[]): Promise<number> {
  const stages = names.map((r) => r.name).filter((n) => /^dataport_stage_[0-9a-f]+$/.test(n));
  for (const name of stages) await sql`DROP TABLE IF EXISTS ${sql.table(name)}`.execute(db);
  return stages.length;
}

/**
 * Rows in primary-key order, for batch inserts: concurrent batches then take their key locks in one
 * order and wait for each other instead of deadlocking. A table without a key keeps the rows' order.
 */
export function byKey(table: TableDef, rows: Row[]): Row[] {
  const key = table.primary_key;
  if (key.length === 0) return rows;
  if (key.length === 1 && columnOf(table, key[0]).type === 'integer') {
    const [k] = key;
    return [...rows].sort((a, b) => (a[k] as number) - (b[k] as number));
  }
  const compare = new Map(key.map((c) => [c, typeOf(columnOf(table, c)).compare]));
  return sortByKey(rows, key, (c, a, b) => compare.get(c)!(a, b));
}

/** The primary key's KeyValue of each row (the form BatchTransaction.insert answers taken keys in). */
export function primaryKeyOf(table: TableDef): (row: Row) => KeyValue {
  const key = table.primary_key;
  if (key.length === 1) {
    const [k] = key;
    return (row) => row[k] as KeyValue;
  }
  return (row) => keyValue(key.map((c) => row[c]));
}

/** Rows fetched per page by pageRows. */
const PAGE_ROWS = 5000;

/**
 * Every row of the table in primary-key order, a page (an array) at a time, as the driver returns them
 * (decode with fromDbRow). Keyset pages (`WHERE key > last`) rather than a streamed SELECT: a driver
 * hands a page over in one call, where a stream costs a promise per row, and each page is one
 * primary-key range read. Composite keys compare as row values where the engine's planner reads them
 * as one range (PostgreSQL, SQLite), and as `a > x OR (a = x AND b > y)` on MariaDB/MySQL, whose range
 * optimizer takes that form. A table without a key is one streamed SELECT in its storage order. Run
 * inside a snapshot, the pages together are one consistent read. The next page is asked for before this
 * one is handed on, so the server reads it while the caller encodes.
 */
export async function* pageRows(
  db: Kysely<any>,
  caps: DialectCaps,
  table: TableDef,
  pageSize = PAGE_ROWS,
): AsyncGenerator<Record<string, unknown>[]> {
  const key = table.primary_key;
  if (key.length === 0) {
    let page: Record<string, unknown>[] = [];
    for await (const row of db.selectFrom(table.name).selectAll().stream(pageSize)) {
      page.push(row as Record<string, unknown>);
      if (page.length === pageSize) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
    return;
  }
  const defs = key.map((c) => columnOf(table, c));
  const order = sql.join(key.map((c) => sql.ref(c)));
  const after = (row: Record<string, unknown>) => {
    const values = defs.map((d) => caps.encodeValue(d, caps.decodeValue(d, row[d.name])));
    if (key.length === 1) return sql`${sql.ref(key[0])} > ${values[0]}`;
    if (caps.rowComparisonRanges) return sql`(${order}) > (${sql.join(values)})`;
    const terms = key.map((_, i) =>
      sql.join(
        key
          .slice(0, i + 1)
          .map((c, j) => (j < i ? sql`${sql.ref(c)} = ${values[j]}` : sql`${sql.ref(c)} > ${values[j]}`)),
        sql` AND `,
      ),
    );
    return sql`(${sql.join(
      terms.map((t) => sql`(${t})`),
      sql` OR `,
    )})`;
  };
  const page = async (last?: Record<string, unknown>) => {
    const where = last ? sql`WHERE ${after(last)}` : sql``;
    const query = sql<
      Record<string, unknown>
    >`SELECT * FROM ${sql.table(table.name)} ${where} ORDER BY ${order} LIMIT ${sql.lit(pageSize)}`;
    return (await query.execute(db)).rows;
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
