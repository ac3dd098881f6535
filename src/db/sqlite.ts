import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  sql,
  type DatabaseConnection,
  type SqliteDatabase,
} from 'kysely';
import { canonicalIsoMillis } from '../tables/datetime.js';
import { keyValue, type KeyValue } from '../tables/keys.js';
import type { Row, TableDef, Value } from '../tables/types.js';
import type {
  BatchTransaction,
  BulkJob,
  BulkWriter,
  DialectCaps,
  Engine,
  KeyRequest,
  WriteMode,
} from './engine.js';
import { askedIds, columnOf, denseSpan, integerKeys, oneByOne, primaryKeyOf } from './rows.js';
import { sqliteTypes } from './sqlite-types.js';
import { codecsOf, typeCaps, type TableShape } from './types.js';

export const sqliteCaps: DialectCaps = {
  upsert: 'on_conflict',
  maxBindParams: 32766,
  types: { integer: 'integer', string: () => 'text', datetime: 'text', text: 'text', bigint: 'integer' },
  ...typeCaps(sqliteTypes),
  typeMap: sqliteTypes,
  backslashEscapes: false,
  rowValueList: 'values',
  rowComparisonRanges: true,
  deferrableForeignKeys: true,
  // Stored as fixed-width ISO text: sorts and compares in time order, and strftime() reads it.
  encodeDatetime: (iso) => iso,
  decodeDatetime: (value) => String(value),
  datetimeMillis: (value) => (typeof value === 'string' ? canonicalIsoMillis(value) : undefined),
};

/**
 * The connection as Kysely sees it. A statement that reads a column declared `bigint` runs with
 * safeIntegers, and such columns come back as exact text (sqlite-types.ts), other integers as numbers:
 * without it better-sqlite3 rounds 64-bit integers to doubles. Booleans bind as 1/0, which SQLite
 * stores (better-sqlite3 binds no booleans).
 */
function forKysely(raw: Database.Database): SqliteDatabase {
  const params = (p: ReadonlyArray<unknown>) =>
    p.some((v) => typeof v === 'boolean') ? p.map((v) => (typeof v === 'boolean' ? Number(v) : v)) : p;
  return {
    close: () => raw.close(),
    prepare(text) {
      const stmt = raw.prepare(text);
      const big = stmt.reader
        ? new Set(
            stmt
              .columns()
              .filter((c) => c.type?.toLowerCase() === 'bigint')
              .map((c) => c.name),
          )
        : new Set<string>();
      if (big.size === 0)
        return {
          reader: stmt.reader,
          all: (p) => stmt.all(...params(p)),
          run: (p) => stmt.run(...params(p)),
          iterate: (p) => stmt.iterate(...params(p)),
        };
      stmt.safeIntegers(true);
      const exact = (row: Record<string, unknown>) => {
        for (const k in row) {
          const v = row[k];
          if (typeof v === 'bigint') row[k] = big.has(k) ? v.toString() : Number(v);
        }
        return row;
      };
      return {
        reader: true,
        all: (p) => (stmt.all(...params(p)) as Record<string, unknown>[]).map(exact),
        run: (p) => stmt.run(...params(p)),
        *iterate(p) {
          for (const row of stmt.iterate(...params(p))) yield exact(row as Record<string, unknown>);
        },
      };
    },
  };
}

function open(file: string, options: Database.Options = {}): Database.Database {
  const db = new Database(file, options);
  if (!options.readonly) db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  // Another connection may hold the write lock for a whole load; short writers wait this long.
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  return db;
}

/**
 * Kysely's SQLite dialect with every transaction opened by `BEGIN IMMEDIATE` instead of its plain
 * (deferred) `begin`. The file may be shared with other processes (the CLI beside the server, a second
 * instance, any SQLite client). A deferred transaction that reads, then writes, must upgrade its read
 * snapshot to the write lock; in WAL mode, if another connection committed in between, SQLite refuses
 * at once with SQLITE_BUSY_SNAPSHOT, which no busy_timeout can wait out. Taking the write lock at BEGIN
 * means the transaction never upgrades: BEGIN waits (busy_timeout) for the other writer instead.
 *
 * The adapter also declares transactional DDL, which SQLite has: Kysely's Migrator then runs the
 * pending migrations in one such transaction. Its migration lock is a no-op on SQLite, so without this
 * two processes starting at once would both read a migration as pending and both apply it; this way
 * the second waits for the first, then reads it as applied.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly database: SqliteDatabase) {
    super({ database });
  }
  override createDriver() {
    return new ImmediateSqliteDriver({ database: this.database });
  }
  override createAdapter() {
    return new TransactionalDdlSqliteAdapter();
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('BEGIN IMMEDIATE'));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/**
 * SQLite in one file: the embedded default. Bulk jobs use a second connection to the same file; other
 * processes may open it too (WAL mode: readers go on, writers take turns, see ImmediateSqliteDialect).
 */
export function createSqliteEngine(file: string): Engine {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const main = open(file);
  // Short writes (batch inserts) commit often, and each commit appends the pages it dirtied to the WAL;
  // a checkpoint every 1000 pages (the default) then copies the same index pages back into the file
  // again and again. Every 10000 (~40 MB of WAL) copies each one once for many commits: a fifth less
  // CPU for 200 batches of 1000 rows (3.2 s to 2.5 s).
  main.pragma('wal_autocheckpoint = 10000');
  const db = new Kysely<any>({ dialect: new ImmediateSqliteDialect(forKysely(main)) });
  const batch = batchStatements(main);

  async function onOwnConnection<T>(
    options: Database.Options,
    begin: string,
    fn: (raw: Database.Database, db: Kysely<any>) => Promise<T>,
    foreignKeys = true,
  ): Promise<T> {
    const raw = open(file, options);
    // A bulk job's writer checks every foreign key once in finish() (sqliteWriter) rather than SQLite
    // row by row: with the checks on, emptying a table visits each row (44 s for 5M rows, blocking the
    // event loop) where SQLite otherwise drops its pages at once (1 s). The pragma cannot change inside
    // a transaction, so it is set before BEGIN; the job holds the only write lock until it commits.
    if (!foreignKeys) raw.pragma('foreign_keys = OFF');
    // 8 MB of page cache (SQLite's sorter, which builds indexes after a load, gets as much): a 64 MB
    // cache loaded and restored 1M rows no faster here and added 100 MB to the process.
    raw.pragma('cache_size = -8192');
    // `own` never opens a transaction of its own: it runs inside `begin` below.
    const own = new Kysely<any>({ dialect: new SqliteDialect({ database: forKysely(raw) }) });
    try {
      raw.exec(begin);
      try {
        const result = await fn(raw, own);
        raw.exec('COMMIT');
        return result;
      } catch (e) {
        if (raw.inTransaction) raw.exec('ROLLBACK');
        throw e;
      }
    } finally {
      await own.destroy();
    }
  }

  return {
    kind: 'sqlite',
    caps: sqliteCaps,
    db,
    description: `sqlite:${file}`,
    // BEGIN IMMEDIATE takes the write lock up front, so a job (a load or restore, which reads ids and
    // the table before it writes, and logs its rejects in between) never fails half-way on a busy lock
    // or a stale snapshot. Every other SQLite write is safe from SQLITE_BUSY_SNAPSHOT too: snapshot()
    // only reads; Kysely transactions on the main connection (batches, migrations) begin IMMEDIATE;
    // the rest (run records, a failed restore's reject, the start-up sweep) are single statements in
    // autocommit, which SQLite begins as writes, so they wait out busy_timeout instead of upgrading.
    bulkJob: (fn) =>
      onOwnConnection(
        {},
        'BEGIN IMMEDIATE',
        (raw, own) =>
          fn({
            db: own,
            lookups: own,
            writer: (table, mode) => sqliteWriter(raw, table, mode),
          } satisfies BulkJob),
        false,
      ),
    snapshot: (fn) => onOwnConnection({ readonly: true }, 'BEGIN', (_raw, own) => fn(own)),
    // Other processes may share the file (the CLI beside the server, a second instance), but SQLite
    // has no list of sessions to count them: this answers 0, so a server's start-up sweep takes itself
    // to be alone. SQLite jobs stage nothing.
    otherSessions: async () => 0,
    dropStagingTables: async () => 0,
    classify(err) {
      const code = (err as { code?: unknown })?.code;
      if (typeof code !== 'string') return null;
      // The extended codes too (SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY_RECOVERY, SQLITE_LOCKED_SHAREDCACHE, …):
      // each means another connection holds the file for now, and the caller should come back.
      if (/^SQLITE_(BUSY|LOCKED)(_|$)/.test(code)) return 'busy';
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE')
        return 'unique_violation';
      if (code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_IOERR') || code === 'SQLITE_NOTADB')
        return 'unavailable';
      return null;
    },
    close: () => db.destroy(),
    // Kysely's transaction holds the main connection (its mutex) until it ends, so the raw statements
    // of `batch`, which run on that same connection, are part of it and of nothing else. It begins
    // IMMEDIATE (ImmediateSqliteDialect): the batch reads ids, then writes, and must not meet another
    // process's commit in between.
    batchTransaction: (fn) => db.transaction().execute((trx) => fn({ db: trx, ...batch })),
    // One process owns the file: a transaction is lock enough, and makes the DDL atomic.
    schema: { describe: describeSqlite, exclusive: (fn) => db.transaction().execute(fn) },
  };
}

/** A table's definition from SQLite's pragmas (the declared types, as sqlite-types.ts declares them). */
async function describeSqlite(db: Kysely<any>, table: string): Promise<TableShape | null> {
  const { rows: columns } = await sql<{ name: string; type: string; notnull: number; pk: number }>`
    SELECT name, type, "notnull", pk FROM pragma_table_info(${table})`.execute(db);
  if (columns.length === 0) return null;
  const shape: TableShape = {
    columns: new Map(columns.map((c) => [c.name, { type: c.type.toLowerCase(), nullable: !c.notnull }])),
    primaryKey: columns
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name),
    indexes: [],
  };
  if (shape.primaryKey.length) shape.indexes.push(shape.primaryKey);
  const { rows: indexes } = await sql<{ name: string }>`SELECT name FROM pragma_index_list(${table})`.execute(
    db,
  );
  for (const { name } of indexes) {
    const { rows } = await sql<{
      name: string;
    }>`SELECT name FROM pragma_index_info(${name}) ORDER BY seqno`.execute(db);
    shape.indexes.push(rows.map((c) => c.name));
  }
  return shape;
}

/**
 * A batch insert's lookups and rows as statements prepared once per table on the main connection:
 * Kysely prepares every statement anew, and preparing a 1000-row insert costs more than running it.
 * A prepared single-row insert, run once a row, is SQLite's fastest way in (as in sqliteWriter).
 */
function batchStatements(main: Database.Database): Omit<BatchTransaction, 'db'> {
  const statements = new Map<string, Database.Statement>();
  const prepared = (text: string) => {
    let statement = statements.get(text);
    if (!statement) statements.set(text, (statement = main.prepare(text)));
    return statement;
  };
  // In-process: a lookup per table costs no round trip.
  const lookUp = async (request: KeyRequest): Promise<Set<KeyValue>> => {
    const t = quote(request.table.name);
    const ids = integerKeys(request);
    if (ids) {
      if (ids.length === 0) return new Set();
      const c = quote(request.columns[0]);
      const span = denseSpan(ids);
      // Else one parameter whatever the count: the ids as a JSON array, each looked up by primary key.
      const found = span
        ? prepared(`SELECT ${c} FROM ${t} WHERE ${c} BETWEEN ? AND ?`).pluck().all(span.min, span.max)
        : prepared(`SELECT ${c} FROM ${t} WHERE ${c} IN (SELECT value FROM json_each(?))`)
            .pluck()
            .all(JSON.stringify(ids));
      return askedIds(found, ids);
    }
    // Any other key: the keys as one JSON array, each probed by its columns; the answer is the
    // positions of the keys found, so no value comes back to decode.
    const keys = request.keys.filter((k) => !k.includes(null));
    if (keys.length === 0) return new Set();
    const json = jsonKeys(request);
    const single = request.columns.length === 1;
    const match = request.columns
      .map((c, i) => `${t}.${quote(c)} = ${single ? 'j.value' : `(j.value ->> ${i})`}`)
      .join(' AND ');
    const hits = prepared(
      `SELECT j.key FROM json_each(?) AS j WHERE EXISTS (SELECT 1 FROM ${t} WHERE ${match})`,
    )
      .pluck()
      .all(`[${keys.map(json).join(',')}]`) as number[];
    return new Set(hits.map((i) => keyValue(keys[i])));
  };
  return {
    existingKeys: (requests) => oneByOne(requests, lookUp),
    // Transactions on the one main connection never interleave, and the batch holds the write lock
    // from its BEGIN IMMEDIATE, so no other connection or process can store a key between the lookup
    // and the insert. Only a key the caller did not look up can be taken; it is answered as taken,
    // as on the other engines. A table without a key appends.
    async insert(table, rows) {
      if (rows.length === 0) return [];
      const insert = prepared(insertSql(table));
      const bind = binder(table);
      const key = primaryKeyOf(table);
      const taken: KeyValue[] = [];
      for (const row of rows) {
        try {
          insert.run(bind(row));
        } catch (e) {
          if ((e as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw e;
          taken.push(key(row));
        }
      }
      return taken;
    },
  };
}

/** A key's values as JSON for json_each: whole numbers unquoted (bigint text too: SQLite reads 64 bits exactly). */
function jsonKeys(request: KeyRequest): (key: Value[]) => string {
  const plain = request.columns.map((c) => {
    const type = columnOf(request.table, c).type;
    return type === 'integer' || type === 'bigint';
  });
  const one = (v: Value, i: number) => (plain[i] ? String(v) : JSON.stringify(v));
  return request.columns.length === 1 ? (k) => one(k[0], 0) : (k) => `[${k.map(one).join(',')}]`;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** A single-row INSERT: prepared once and run once a row, SQLite's fastest way in. */
function insertSql(table: TableDef): string {
  const names = table.columns.map((c) => quote(c.name));
  return `INSERT INTO ${quote(table.name)} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`;
}

/**
 * A row as insertSql's parameters, in one array reused for every row (run() copies what it binds),
 * through the table's per-column encoders (sqlite-types.ts): booleans as 1/0, bigints as BigInt.
 */
function binder(table: TableDef): (row: Row) => unknown[] {
  const { names, encode } = codecsOf(sqliteTypes, table);
  const values: unknown[] = new Array(names.length);
  return (row) => {
    for (let i = 0; i < names.length; i++) values[i] = encode[i](row[names[i]]);
    return values;
  };
}

/**
 * Prepared single-row statements in the job's one transaction: SQLite's fastest path. Upsert replaces
 * the row with the same primary key; a table without one gets the rows appended.
 */
async function sqliteWriter(raw: Database.Database, table: TableDef, mode: WriteMode): Promise<BulkWriter> {
  const key = table.primary_key;
  const updates = table.columns
    .filter((c) => !key.includes(c.name))
    .map((c) => `${quote(c.name)} = excluded.${quote(c.name)}`);
  let statement = insertSql(table);
  // Foreign keys are off on the job's connection (see bulkJob): the DELETE drops the table's pages at
  // once, and finish() checks every key the job could have broken.
  if (mode === 'replace') raw.prepare(`DELETE FROM ${quote(table.name)}`).run();
  // The job holds the write lock (BEGIN IMMEDIATE), so an empty table stays empty but for our rows.
  const empty =
    mode === 'replace' || raw.prepare(`SELECT 1 FROM ${quote(table.name)} LIMIT 1`).get() === undefined;
  if (mode === 'upsert' && !empty && key.length > 0)
    statement += updates.length
      ? ` ON CONFLICT(${key.map(quote).join(', ')}) DO UPDATE SET ${updates.join(', ')}`
      : ' ON CONFLICT DO NOTHING';
  // Into an empty table, secondary indexes are built once by finish() (one sort) instead of row by row
  // (scattered page writes that slow the load as the table grows). DDL is transactional in SQLite: a
  // failed job gets its indexes back with the rollback.
  const indexes = empty
    ? (raw
        .prepare(
          `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`,
        )
        .all(table.name) as { name: string; sql: string }[])
    : [];
  for (const index of indexes) raw.exec(`DROP INDEX "${index.name.replace(/"/g, '""')}"`);
  const insert = raw.prepare(statement);
  const bind = binder(table);
  let written = 0;
  return {
    async write(rows: Row[]) {
      for (const row of rows) insert.run(bind(row));
      written += rows.length;
    },
    // Statements run one at a time on this connection: nothing holds it between writes.
    between: (fn) => fn(),
    holder: () => table.name,
    async finish() {
      for (const index of indexes.splice(0)) raw.exec(index.sql);
      checkForeignKeys(raw, table.name);
      return written;
    },
  };
}

/**
 * Every foreign key from `table`, and to it from other tables, must hold (SQLite checks them in one
 * pass, ~1 s for 5M rows). The services check references first with clearer errors; this is the
 * engine's own guarantee, as the database's checks are elsewhere.
 */
function checkForeignKeys(raw: Database.Database, table: string): void {
  const children = raw
    .prepare(
      `SELECT m.name FROM sqlite_master m, pragma_foreign_key_list(m.name) f
        WHERE m.type = 'table' AND f."table" = ? AND m.name <> ?`,
    )
    .all(table, table) as { name: string }[];
  for (const name of [table, ...children.map((c) => c.name)]) {
    const broken = raw.prepare('SELECT * FROM pragma_foreign_key_check(?) LIMIT 1').get(name) as
      { table: string; rowid: number; parent: string } | undefined;
    if (broken)
      throw new Error(
        `foreign key check failed: a row of ${broken.table} (rowid ${broken.rowid}) refers to a missing row of ${broken.parent}`,
      );
  }
}
