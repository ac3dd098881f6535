import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { Kysely, MysqlDialect, sql } from 'kysely';
import mysql from 'mysql2';
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
import { mysqlReportedType, mysqlString, mysqlTypes } from './mysql-types.js';
import { planSwap } from './mysql-swap.js';
import { mysqlBatch } from './mysql-batch.js';
import { nativeWriter, streamInto, type StreamLoad } from './native-writer.js';
import { dropStages, insertRows } from './rows.js';
import { codecsOf, typeCaps, type Codecs, type TableShape } from './types.js';
import { parseServerUrl, type ServerUrl } from './url.js';

type Conn = mysql.PoolConnection;

export const mysqlCaps: DialectCaps = {
  upsert: 'on_duplicate_key',
  maxBindParams: 65535,
  types: {
    integer: 'integer',
    string: mysqlString,
    datetime: 'datetime(3)',
    text: 'text',
    bigint: 'bigint',
  },
  ...typeCaps(mysqlTypes),
  typeMap: mysqlTypes,
  backslashEscapes: true,
  rowValueList: 'list',
  rowComparisonRanges: false,
  deferrableForeignKeys: false,
  ...spacedDatetimes,
};

/**
 * Strict, ANSI-quoted sessions in UTC. ANSI_QUOTES lets hand-written SQL quote names with "…" as on
 * every other engine (Kysely's backticks still work); PIPES_AS_CONCAT makes `||` concatenate.
 */
const SESSION = [
  "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO," +
    "NO_ENGINE_SUBSTITUTION,ANSI_QUOTES,PIPES_AS_CONCAT', NAMES utf8mb4",
  // Jobs and batches read at READ COMMITTED (see bulkJob and mysql-batch.ts); set once per session
  // rather than before each transaction, which cost a round trip per batch insert. Only snapshot()
  // wants REPEATABLE READ, and asks for it. Single statements see the same either way.
  'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED',
];

/** MariaDB 10.6+ / MySQL 8 through mysql2: a pool for requests, dedicated connections for jobs. */
export function createMysqlEngine(url: string | ServerUrl): Engine {
  const target = typeof url === 'string' ? parseServerUrl(url) : url;
  const pool = mysql.createPool({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    ssl:
      target.ssl === 'disable'
        ? undefined
        : {
            rejectUnauthorized: target.ssl === 'verify',
            ca: target.sslCaFile ? readFileSync(target.sslCaFile, 'utf8') : undefined,
          },
    charset: 'UTF8MB4_GENERAL_CI',
    timezone: 'Z',
    dateStrings: true,
    // BIGINT and DECIMAL as exact text (mysql-types.ts), never through a double. Counts come as text too.
    supportBigNumbers: true,
    bigNumberStrings: true,
    connectionLimit: 10,
    maxIdle: 10,
    idleTimeout: 60_000,
    connectTimeout: 5_000,
    enableKeepAlive: true,
  });
  pool.on('connection', (conn) => {
    // A connection whose server went away: the pool drops it, and a query on it fails with the error.
    conn.on('error', () => undefined);
    for (const statement of SESSION)
      conn.query(statement, (err) => {
        if (err) conn.destroy();
      });
  });
  const db = new Kysely<any>({ dialect: new MysqlDialect({ pool }) });

  const acquire = () =>
    new Promise<Conn>((resolve, reject) =>
      pool.getConnection((err, conn) => (err ? reject(err) : resolve(conn))),
    );

  /**
   * Runs `fn` on a connection of its own, between `begin` and COMMIT (ROLLBACK when it throws). A
   * writer streaming into the connection registers an abort, run before the ROLLBACK can be sent.
   * `changesSession`: `fn` may switch FOREIGN_KEY_CHECKS off, so it is switched on again before the
   * connection goes back to the pool (a round trip that batches, which never touch it, do without).
   */
  async function onOwnConnection<T>(
    begin: string[],
    changesSession: boolean,
    fn: (job: Omit<JobParts, 'acquire'>) => Promise<T>,
  ): Promise<T> {
    const conn = await acquire();
    const own = new Kysely<any>({ dialect: new MysqlDialect({ pool: pinned(conn) }) });
    const afterwards: (() => Promise<void>)[] = [];
    const aborts: (() => Promise<void>)[] = [];
    const committed: (() => Promise<void>)[] = [];
    let healthy = true;
    try {
      for (const statement of begin) await run(conn, statement);
      let result: T;
      try {
        result = await fn({ conn, own, afterwards, aborts, committed });
        await run(conn, 'COMMIT');
      } catch (e) {
        for (const abort of aborts) await abort().catch(() => (healthy = false));
        await run(conn, 'ROLLBACK').catch(() => (healthy = false));
        throw e;
      }
      for (const step of committed) await step();
      return result;
    } finally {
      await own.destroy();
      // A session setting a writer changed must not leak to the next user of the connection.
      if (changesSession) await run(conn, 'SET FOREIGN_KEY_CHECKS = 1').catch(() => (healthy = false));
      if (healthy) conn.release();
      else conn.destroy();
      for (const cleanup of afterwards) await cleanup().catch(() => undefined);
    }
  }

  return {
    kind: 'mysql',
    caps: mysqlCaps,
    db,
    description: target.redacted,
    // READ COMMITTED (the session's level): the merge must see the staging table, which another
    // connection creates and fills after the job's first read (under REPEATABLE READ InnoDB refuses a
    // table newer than the read view).
    bulkJob: (fn) =>
      onOwnConnection(['START TRANSACTION'], true, (job) =>
        fn({
          db: job.own,
          lookups: db,
          writer: (table, mode) => mysqlWriter({ ...job, acquire }, table, mode),
        } satisfies BulkJob),
      ),
    snapshot: (fn) =>
      onOwnConnection(
        [
          'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ',
          'START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY',
        ],
        false,
        ({ own }) => fn(own),
      ),
    classify: classifyMysql,
    otherSessions: async () => {
      const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
        WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND USER = SUBSTRING_INDEX(USER(), '@', 1)`.execute(
        db,
      );
      return Number(rows[0]?.n ?? 0);
    },
    dropStagingTables: async () => {
      const { rows } = await sql<{ name: string }>`SELECT TABLE_NAME AS name FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'dataport\\_stage\\_%'`.execute(db);
      return dropStages(db, rows);
    },
    close: () => db.destroy(),
    batchTransaction: (fn) =>
      onOwnConnection(['START TRANSACTION'], false, ({ conn, own }) => fn(mysqlBatch(conn, own, mysqlCaps))),
    schema: {
      describe: describeMysql,
      // GET_LOCK is held by the connection: Kysely's connection() keeps one for the whole of fn.
      exclusive: (fn) =>
        db.connection().execute(async (conn) => {
          const { rows } = await sql<{
            ok: unknown;
          }>`SELECT GET_LOCK('dataport_catalogue', 60) AS ok`.execute(conn);
          if (Number(rows[0]?.ok) !== 1) throw new Error('could not take the catalogue lock in 60 s');
          try {
            return await fn(conn);
          } finally {
            await sql`SELECT RELEASE_LOCK('dataport_catalogue')`.execute(conn);
          }
        }),
    } satisfies SchemaReader,
  };
}

/** A table's definition from information_schema (types without display widths: mysqlReportedType). */
async function describeMysql(db: Kysely<any>, table: string): Promise<TableShape | null> {
  const { rows: columns } = await sql<{ name: string; type: string; nullable: string }>`
    SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${table} ORDER BY ORDINAL_POSITION`.execute(db);
  if (columns.length === 0) return null;
  const { rows: parts } = await sql<{ name: string; column: string }>`
    SELECT INDEX_NAME AS name, COLUMN_NAME AS "column" FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${table} ORDER BY INDEX_NAME, SEQ_IN_INDEX`.execute(db);
  const indexes = new Map<string, string[]>();
  for (const p of parts) indexes.set(p.name, [...(indexes.get(p.name) ?? []), p.column]);
  return {
    columns: new Map(
      columns.map((c) => [
        c.name,
        { type: mysqlReportedType(String(c.type)), nullable: c.nullable === 'YES' },
      ]),
    ),
    primaryKey: indexes.get('PRIMARY') ?? [],
    indexes: [...indexes.values()],
  };
}

// Network failures, a lost or killed connection, a server shutting down or full.
const UNAVAILABLE = new Set(
  (
    'ECONNREFUSED ECONNRESET ETIMEDOUT EHOSTUNREACH ENETUNREACH EPIPE ENOTFOUND EAI_AGAIN PROTOCOL_CONNECTION_LOST ' +
    'PROTOCOL_SEQUENCE_TIMEOUT ER_CON_COUNT_ERROR ER_SERVER_SHUTDOWN ER_CONNECTION_KILLED'
  ).split(' '),
);
// By errno too, for codes mysql2 does not name: 1040 too many connections, 1053 shutdown, 1927 killed,
// 2002/2003 cannot connect, 2006/2013 gone/lost; 1205 lock wait timeout, 1213 deadlock; 1062 duplicate key.
const UNAVAILABLE_ERRNO = new Set([1040, 1053, 1927, 2002, 2003, 2006, 2013]);

export function classifyMysql(err: unknown): DbFailure | null {
  for (let e = err as any, depth = 0; e && depth < 5; e = e.cause, depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (UNAVAILABLE.has(code) || UNAVAILABLE_ERRNO.has(e.errno)) return 'unavailable';
    if (/connection is in closed state|Pool is closed/i.test(String(e.message))) return 'unavailable';
    if (code === 'ER_LOCK_DEADLOCK' || e.errno === 1213) return 'deadlock';
    if (code === 'ER_LOCK_WAIT_TIMEOUT' || e.errno === 1205) return 'busy';
    if (code === 'ER_DUP_ENTRY' || e.errno === 1062) return 'unique_violation';
  }
  return null;
}

interface JobParts {
  conn: Conn;
  own: Kysely<any>;
  acquire: () => Promise<Conn>;
  /** Run after the job's connection is released, whatever happened. */
  afterwards: (() => Promise<void>)[];
  /** Run when the job fails, before its ROLLBACK. */
  aborts: (() => Promise<void>)[];
  /** Run after the job's COMMIT; an error fails the job (whose own writes are committed by then). */
  committed: (() => Promise<void>)[];
}

/**
 * The native path (see nativeWriter) on MariaDB/MySQL: `LOAD DATA LOCAL INFILE` straight into the
 * table on the job's connection, or into a staging table on a second connection, so that the job's
 * own connection stays free for its reads (the row gate) and the reject log while the load runs. The
 * staging table is a real table (a temporary one lives on one connection only), dropped after the job.
 *
 * Replace: a table that no foreign key references is replaced by a table swap (mysql-swap.ts) once
 * the job commits. Otherwise InnoDB would move the children's foreign keys to the renamed old table,
 * so replace is DELETE + INSERT inside the job's transaction, with FOREIGN_KEY_CHECKS off for the swap
 * only (the caller has proved the final state consistent) and back on afterwards, even on error (and
 * again before the connection returns to the pool).
 */
async function mysqlWriter(job: JobParts, table: TableDef, mode: WriteMode): Promise<BulkWriter> {
  const columns = table.columns.map((c) => c.name);
  const key = table.primary_key;
  const codecs = codecsOf(mysqlTypes, table);
  const list = columns.map(quote).join(', ');
  const target = quote(table.name);
  const encode = (rows: Row[]) => encodeLines(rows, codecs);
  // Planned on a pooled connection: the job's own transaction must hold no lock on the table that
  // the swap will rename.
  const plan = mode === 'replace' ? await withConnection(job.acquire, (c) => planSwap(c, table.name)) : null;
  let side: Conn | undefined;
  let swapped: string | undefined;
  const writer = nativeWriter({
    direct: mode === 'replace' ? !plan : await isEmpty(job.conn, table.name),
    async beginDirect() {
      if (mode !== 'replace') return;
      // Off until endDirect() (and reset before the connection returns to the pool, whatever happens).
      await run(job.conn, 'SET FOREIGN_KEY_CHECKS = 0');
      await run(job.conn, `DELETE FROM ${target}`);
    },
    openDirect: async () => streamLoad(job.conn, table.name, list, encode),
    async endDirect() {
      if (mode === 'replace') await run(job.conn, 'SET FOREIGN_KEY_CHECKS = 1');
    },
    async openStaging() {
      const stage = `dataport_stage_${randomBytes(6).toString('hex')}`;
      const conn = (side = await job.acquire());
      job.afterwards.push(async () => {
        await run(conn, `DROP TABLE IF EXISTS ${quote(stage)}`).catch(() => undefined);
        conn.release();
      });
      // The table's columns and primary key (or none), no other index: the merge reads it in key order.
      const defs = table.columns.map(
        (c) => `${quote(c.name)} ${mysqlCaps.columnType(c)}${c.nullable ? ' NULL' : ' NOT NULL'}`,
      );
      if (key.length) defs.push(`PRIMARY KEY (${key.map(quote).join(', ')})`);
      await run(
        conn,
        plan
          ? plan.createStage(stage)
          : `CREATE TABLE ${quote(stage)} (${defs.join(', ')}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      );
      const load = streamLoad(conn, stage, list, encode, table.name);
      job.afterwards.unshift(() => load.abort());
      return { stage, ...load };
    },
    async merge(stage) {
      if (plan) {
        await plan.finish(side!, stage);
        swapped = stage;
        job.committed.push(() => plan.swap(side!, stage));
        return;
      }
      const others = columns.filter((c) => !key.includes(c)).map((c) => `${quote(c)} = VALUES(${quote(c)})`);
      const order = key.length ? ` ORDER BY ${key.map(quote).join(', ')}` : '';
      const select = `INSERT INTO ${target} (${list}) SELECT ${list} FROM ${quote(stage)}${order}`;
      await swap(job.conn, mode, async () => {
        if (mode === 'replace') {
          await run(job.conn, `DELETE FROM ${target}`);
          await run(job.conn, select);
        } else if (key.length === 0) {
          await run(job.conn, select); // no key: the rows are appended
        } else {
          await run(
            job.conn,
            others.length
              ? `${select} ON DUPLICATE KEY UPDATE ${others.join(', ')}`
              : select.replace('INSERT', 'INSERT IGNORE'),
          );
        }
      });
    },
    async small(rows) {
      await swap(job.conn, mode, async () => {
        if (mode === 'replace') await run(job.conn, `DELETE FROM ${target}`);
        await insertRows(job.own, mysqlCaps, table, rows, { upsert: mode === 'upsert' });
      });
    },
  });
  job.aborts.push(() => writer.abort());
  return { ...writer, holder: () => swapped ?? table.name };
}

async function withConnection<T>(acquire: () => Promise<Conn>, fn: (conn: Conn) => Promise<T>): Promise<T> {
  const conn = await acquire();
  try {
    return await fn(conn);
  } finally {
    conn.release();
  }
}

/**
 * One `LOAD DATA LOCAL` into `into` on `conn`, fed by a stream that rows are written to as they come.
 * `name` is the table users know, for messages.
 */
function streamLoad(
  conn: Conn,
  into: string,
  list: string,
  encode: (rows: Row[]) => string,
  name = into,
): StreamLoad {
  const input = new PassThrough({ highWaterMark: 1 << 20 });
  return streamInto(
    input,
    loadData(conn, into, list, () => input),
    encode,
    (result, expected) => checkLoad(conn, name, result, expected),
  );
}

/** `LOAD DATA LOCAL` of tab-separated lines (see encodeLine) into `table`, from the stream `input` gives. */
function loadData(
  conn: Conn,
  table: string,
  list: string,
  input: () => Readable,
): Promise<mysql.ResultSetHeader> {
  const statement =
    `LOAD DATA LOCAL INFILE 'dataport-rows' INTO TABLE ${quote(table)} CHARACTER SET utf8mb4 ` +
    `FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${list})`;
  return new Promise<mysql.ResultSetHeader>((resolve, reject) =>
    conn.query({ sql: statement, infileStreamFactory: input }, (err, result) =>
      err ? reject(err) : resolve(result as mysql.ResultSetHeader),
    ),
  );
}

/** LOAD DATA LOCAL turns a refused row into a warning and skips it: any warning fails the job. */
async function checkLoad(conn: Conn, table: string, result: mysql.ResultSetHeader, expected: number) {
  if (result.warningStatus === 0 && result.affectedRows === expected) return;
  const warnings = (await query(conn, 'SHOW WARNINGS LIMIT 5').catch(() => [])) as { Message?: string }[];
  throw new Error(
    `LOAD DATA into ${table} loaded ${result.affectedRows} of ${expected} rows with ${result.warningStatus} warnings` +
      (warnings.length ? `: ${warnings.map((w) => w.Message).join('; ')}` : ''),
  );
}

async function isEmpty(conn: Conn, table: string): Promise<boolean> {
  return ((await query(conn, `SELECT 1 FROM ${quote(table)} LIMIT 1`)) as unknown[]).length === 0;
}

/** For replace: foreign-key checks off for the swap only, and on again whatever happens. */
async function swap(conn: Conn, mode: WriteMode, fn: () => Promise<void>) {
  if (mode !== 'replace') return fn();
  await run(conn, 'SET FOREIGN_KEY_CHECKS = 0');
  try {
    await fn();
  } finally {
    await run(conn, 'SET FOREIGN_KEY_CHECKS = 1');
  }
}

/**
 * Rows as LOAD DATA lines: tab-separated, `\\N` for NULL, each column through its encoder from the
 * table's codecs (mysql-types.ts: booleans 1/0, decimals and bigints as their text); strings with the
 * escape character, tab, newline, CR and NUL escaped.
 */
export function encodeLines(rows: Row[], codecs: Codecs): string {
  const { names, text } = codecs;
  let out = '';
  for (const row of rows) {
    for (let i = 0; i < names.length; i++) {
      const v = row[names[i]];
      if (i > 0) out += '\t';
      if (v === null) out += '\\N';
      else {
        const t = text[i];
        out += t ? t(v) : (v as string).replace(/[\\\t\n\r\0]/g, escapeChar);
      }
    }
    out += '\n';
  }
  return out;
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };
const escapeChar = (c: string) => ESCAPES[c];

const quote = (name: string) => `\`${name.replace(/`/g, '``')}\``;

function query(conn: Conn, sql: string): Promise<unknown> {
  return new Promise((resolve, reject) =>
    conn.query(sql, (err, result) => (err ? reject(err) : resolve(result))),
  );
}

async function run(conn: Conn, sql: string): Promise<void> {
  await query(conn, sql);
}

/** A one-connection "pool" for Kysely: every query of the job runs on `conn`, and Kysely never releases it. */
function pinned(conn: Conn) {
  const handle = new Proxy(conn, {
    get(target, key) {
      if (key === 'release') return () => undefined;
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    getConnection: (cb: (err: unknown, conn: Conn) => void) => cb(null, handle),
    end: (cb: (err?: unknown) => void) => cb(),
  } as unknown as mysql.Pool;
}
