import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import Cursor from 'pg-cursor';
import type { Row, TableDef } from '../tables/types.js';
import type {
  BulkJob,
  BulkWriter,
  DbFailure,
  DialectCaps,
  Engine,
  SchemaReader,
  WriteMode,
} from './engine.js';
import { spacedDatetimes } from './datetime-text.js';
import { nativeWriter, streamInto, type StreamLoad } from './native-writer.js';
import { postgresBatch } from './postgres-batch.js';
import { planPgSwap } from './postgres-swap.js';
import { dropStages, insertRows } from './rows.js';
import { postgresTypes } from './postgres-types.js';
import { codecsOf, typeCaps, type Codecs, type TableShape } from './types.js';
import { parseServerUrl, type ServerUrl } from './url.js';

export const postgresCaps: DialectCaps = {
  upsert: 'on_conflict',
  maxBindParams: 65535,
  types: {
    integer: 'integer',
    string: (n) => `varchar(${n})`,
    datetime: 'timestamp(3)',
    text: 'text',
    bigint: 'bigint',
  },
  ...typeCaps(postgresTypes),
  typeMap: postgresTypes,
  backslashEscapes: false,
  rowValueList: 'list',
  rowComparisonRanges: true,
  deferrableForeignKeys: true,
  ...spacedDatetimes,
};

/**
 * Per-pool parsers (pg's global registry stays untouched): int8 (20), numeric (1700), date (1082) and
 * timestamp (1114) as the server's text, so that no value passes through a double or a local-time
 * Date (postgres-types.ts decodes them). Counts are int8: callers take Number() of them.
 */
const AS_TEXT = new Set([20, 1700, 1082, 1114]);
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (AS_TEXT.has(oid)) return (value: string) => value;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

/** PostgreSQL 13+ through pg: a pool for requests, dedicated connections for jobs. */
export function createPostgresEngine(url: string | ServerUrl): Engine {
  const target = typeof url === 'string' ? parseServerUrl(url) : url;
  const pool = new pg.Pool({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    ssl:
      target.ssl === 'disable'
        ? false
        : {
            rejectUnauthorized: target.ssl === 'verify',
            ca: target.sslCaFile ? readFileSync(target.sslCaFile, 'utf8') : undefined,
          },
    types,
    options: '-c TimeZone=UTC -c client_encoding=UTF8',
    application_name: 'dataport',
    max: 10,
    idleTimeoutMillis: 60_000,
    connectionTimeoutMillis: 5_000,
    keepAlive: true,
  });
  // An idle client whose server went away emits here; without a listener the process would crash.
  // The pool drops that client and connects a new one on the next request.
  pool.on('error', () => undefined);
  // A client in use has no pool listener: its query fails with the error anyway, so only swallow the event.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool, cursor: Cursor }) });

  /** A writer streaming into the client registers an abort, run before the ROLLBACK can be sent. */
  async function onOwnConnection<T>(
    begin: string,
    fn: (job: Omit<JobParts, 'pool'>) => Promise<T>,
  ): Promise<T> {
    const client = await pool.connect();
    const own = new Kysely<any>({ dialect: new PostgresDialect({ pool: pinned(client), cursor: Cursor }) });
    const afterwards: (() => Promise<void>)[] = [];
    const aborts: (() => Promise<void>)[] = [];
    let broken: Error | undefined;
    try {
      await client.query(begin);
      try {
        const result = await fn({ client, own, afterwards, aborts });
        await client.query('COMMIT');
        return result;
      } catch (e) {
        for (const abort of aborts) await abort().catch((err: Error) => (broken = err));
        await client.query('ROLLBACK').catch((err: Error) => (broken = err));
        throw e;
      }
    } finally {
      await own.destroy();
      client.release(broken);
      for (const cleanup of afterwards) await cleanup().catch(() => undefined);
    }
  }

  return {
    kind: 'postgres',
    caps: postgresCaps,
    db,
    description: target.redacted,
    // READ COMMITTED, stated: the merge must see the staging table that another connection filled.
    bulkJob: (fn) =>
      onOwnConnection('BEGIN ISOLATION LEVEL READ COMMITTED', (job) =>
        fn({
          db: job.own,
          lookups: db,
          writer: (table, mode) => postgresWriter({ ...job, pool }, table, mode),
        } satisfies BulkJob),
      ),
    // The first statement takes the snapshot: take it now, not at fn's first query.
    snapshot: (fn) =>
      onOwnConnection('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async ({ client, own }) => {
        await client.query('SELECT 1');
        return fn(own);
      }),
    classify: classifyPostgres,
    otherSessions: async () => {
      const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'dataport' AND pid <> pg_backend_pid()`.execute(
        db,
      );
      return Number(rows[0]?.n ?? 0);
    },
    dropStagingTables: async () => {
      const { rows } = await sql<{ name: string }>`SELECT tablename AS name FROM pg_tables
        WHERE schemaname = current_schema() AND tablename LIKE 'dataport\\_stage\\_%'`.execute(db);
      return dropStages(db, rows);
    },
    close: () => db.destroy(),
    batchTransaction: (fn) => postgresBatch(db, postgresCaps, fn),
    schema: {
      describe: describePostgres,
      // A transaction-scoped advisory lock: released with the transaction, which also makes the DDL atomic.
      exclusive: (fn) =>
        db.transaction().execute(async (trx) => {
          await sql`SELECT pg_advisory_xact_lock(hashtext('dataport_catalogue'))`.execute(trx);
          return fn(trx);
        }),
    } satisfies SchemaReader,
  };
}

/** A table's definition from pg_catalog, types as format_type() writes them. */
async function describePostgres(db: Kysely<any>, table: string): Promise<TableShape | null> {
  const { rows: columns } = await sql<{ name: string; type: string; notnull: boolean }>`
    SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relname = ${table} AND c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
       AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum`.execute(db);
  if (columns.length === 0) return null;
  const { rows: indexes } = await sql<{ primary: boolean; columns: string[] }>`
    SELECT x.indisprimary AS primary,
           ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY AS k(n, i)
                   JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n ORDER BY k.i)::text[] AS columns
      FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
     WHERE c.relname = ${table} AND c.relnamespace = current_schema()::regnamespace`.execute(db);
  return {
    columns: new Map(columns.map((c) => [c.name, { type: c.type, nullable: !c.notnull }])),
    primaryKey: indexes.find((i) => i.primary)?.columns ?? [],
    indexes: indexes.map((i) => i.columns),
  };
}

export function classifyPostgres(err: unknown): DbFailure | null {
  for (let e = err as any, depth = 0; e && depth < 5; e = e.cause, depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    // 08: connection exceptions; 57P01-03: shutdown, crash, not yet accepting; 53300: too many connections.
    if (code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code)) return 'unavailable';
    if (
      [
        'ECONNREFUSED',
        'ECONNRESET',
        'ETIMEDOUT',
        'EHOSTUNREACH',
        'ENETUNREACH',
        'EPIPE',
        'ENOTFOUND',
        'EAI_AGAIN',
      ].includes(code)
    )
      return 'unavailable';
    if (
      /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Cannot use a pool after calling end/i.test(
        String(e.message),
      )
    ) {
      return 'unavailable';
    }
    // 40001 serialization failure, 40P01 deadlock, 55P03 lock not available.
    if (code === '40001' || code === '40P01') return 'deadlock';
    if (code === '55P03') return 'busy';
    if (code === '23505') return 'unique_violation';
  }
  return null;
}

interface JobParts {
  client: pg.PoolClient;
  own: Kysely<any>;
  pool: pg.Pool;
  /** Run after the job's client is released, whatever happened. */
  afterwards: (() => Promise<void>)[];
  /** Run when the job fails, before its ROLLBACK. */
  aborts: (() => Promise<void>)[];
}

/**
 * The native path (see nativeWriter) on PostgreSQL: `COPY … FROM STDIN` (CSV) straight into the table
 * on the job's client, or into an unlogged staging table on a second connection, so that the job's own
 * connection stays free for its reads and the reject log while the COPY runs. (A temporary table would
 * live on one connection only.) The staging table is dropped after the job ends.
 *
 * Replace: in the job's one transaction, `SET CONSTRAINTS ALL DEFERRED` (the catalogue's foreign keys
 * are DEFERRABLE INITIALLY IMMEDIATE), DELETE, then the rows. The checks stay deferred to COMMIT, as
 * SQLite's defer_foreign_keys does: the caller may check references itself after finish() (with a
 * clearer error), or replace several related tables in one job; COMMIT still refuses a broken one.
 * A large replace of a table that nothing references takes the table swap of postgres-swap.ts instead,
 * in the same transaction.
 */
async function postgresWriter(job: JobParts, table: TableDef, mode: WriteMode): Promise<BulkWriter> {
  const columns = table.columns.map((c) => c.name);
  const key = table.primary_key;
  const codecs = codecsOf(postgresTypes, table);
  const list = columns.map(quote).join(', ');
  const target = quote(table.name);
  const encode = (rows: Row[]) => encodeCsv(rows, codecs);
  const plan = mode === 'replace' ? await planPgSwap(job.client, table.name) : null;
  const stage = `dataport_stage_${randomBytes(6).toString('hex')}`;
  const writer = nativeWriter({
    direct: mode === 'replace' || (await job.client.query(`SELECT 1 FROM ${target} LIMIT 1`)).rowCount === 0,
    async beginDirect() {
      if (mode !== 'replace') return;
      if (plan) return plan.createStage(job.client, stage);
      await job.client.query('SET CONSTRAINTS ALL DEFERRED');
      await job.client.query(`DELETE FROM ${target}`);
    },
    openDirect: async () => streamCopy(job.client, plan ? stage : table.name, list, encode, table.name),
    async endDirect() {
      if (plan) await plan.swap(job.client, stage);
    },
    async openStaging() {
      const side = await job.pool.connect();
      let sideBroken: Error | undefined;
      job.afterwards.push(async () => {
        await side.query(`DROP TABLE IF EXISTS ${quote(stage)}`).catch((e: Error) => (sideBroken = e));
        side.release(sideBroken);
      });
      // The table's columns and primary key (or none), no other index: the merge reads it in key order.
      const defs = table.columns.map(
        (c) => `${quote(c.name)} ${postgresCaps.columnType(c)}${c.nullable ? '' : ' NOT NULL'}`,
      );
      if (key.length) defs.push(`PRIMARY KEY (${key.map(quote).join(', ')})`);
      await side.query(`CREATE UNLOGGED TABLE ${quote(stage)} (${defs.join(', ')})`);
      const load = streamCopy(side, stage, list, encode, table.name);
      job.afterwards.unshift(() => load.abort());
      return { stage, ...load };
    },
    async merge(stage) {
      const order = key.length ? ` ORDER BY ${key.map(quote).join(', ')}` : '';
      const select = `INSERT INTO ${target} (${list}) SELECT ${list} FROM ${quote(stage)}${order}`;
      const updates = columns
        .filter((c) => !key.includes(c))
        .map((c) => `${quote(c)} = EXCLUDED.${quote(c)}`);
      await swap(job.client, mode, async () => {
        if (mode === 'replace') {
          await job.client.query(`DELETE FROM ${target}`);
          await job.client.query(select);
        } else if (key.length === 0) {
          await job.client.query(select); // no key: the rows are appended
        } else {
          await job.client.query(
            `${select} ON CONFLICT (${key.map(quote).join(', ')}) ${updates.length ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING'}`,
          );
        }
      });
    },
    async small(rows) {
      await swap(job.client, mode, async () => {
        if (mode === 'replace') await job.client.query(`DELETE FROM ${target}`);
        await insertRows(job.own, postgresCaps, table, rows, { upsert: mode === 'upsert' });
      });
    },
  });
  job.aborts.push(() => writer.abort());
  return { ...writer, holder: () => table.name };
}

/**
 * One `COPY … FROM STDIN` into `into` on `client`, fed rows as they come. `name` is the table users
 * know, for messages. abort() answers whether it had to cut a copy short.
 */
function streamCopy(
  client: pg.PoolClient,
  into: string,
  list: string,
  encode: (rows: Row[]) => string,
  name = into,
): StreamLoad {
  const input = client.query(copyFrom(`COPY ${quote(into)} (${list}) FROM STDIN WITH (FORMAT csv)`));
  return streamInto(input, finished(input), encode, (_, expected) => {
    const copied = (input as unknown as { rowCount: number }).rowCount;
    if (copied !== expected) throw new Error(`COPY into ${name} loaded ${copied} of ${expected} rows`);
  });
}

async function swap(client: pg.PoolClient, mode: WriteMode, fn: () => Promise<void>) {
  if (mode === 'replace') await client.query('SET CONSTRAINTS ALL DEFERRED');
  await fn();
}

/**
 * Rows as COPY CSV lines, each column through its encoder from the table's codecs (postgres-types.ts).
 * NULL is an unquoted empty field; every string is quoted, so an empty one is "". Numbers, booleans,
 * dates and datetimes never need quotes.
 */
export function encodeCsv(rows: Row[], codecs: Codecs): string {
  const { names, text } = codecs;
  let out = '';
  for (const row of rows) {
    for (let i = 0; i < names.length; i++) {
      const v = row[names[i]];
      if (i > 0) out += ',';
      if (v === null) continue;
      const t = text[i];
      out += t ? t(v) : `"${(v as string).replace(/"/g, '""')}"`;
    }
    out += '\n';
  }
  return out;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** A one-client "pool" for Kysely: every query of the job runs on `client`, and Kysely never releases it. */
function pinned(client: pg.PoolClient) {
  const handle = new Proxy(client, {
    get(target, key) {
      if (key === 'release') return () => undefined;
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { connect: async () => handle, end: async () => undefined } as unknown as pg.Pool;
}
