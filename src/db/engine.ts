import type { Kysely } from 'kysely';
import type { KeyValue } from '../tables/keys.js';
import type { ColumnDef, Row, TableDef, Value } from '../tables/types.js';
import type { TableShape, TypeMap } from './types.js';

export type EngineKind = 'sqlite' | 'mysql' | 'postgres';

/**
 * What differs between databases, as flags and small functions in one place, so that services and
 * repositories never branch on the engine's name.
 */
export interface DialectCaps {
  /** How an insert that meets an existing id updates it instead. */
  upsert: 'on_conflict' | 'on_duplicate_key';
  /** The most bind parameters one statement may carry. */
  maxBindParams: number;
  /** Column types for the service's own tables (dataport_loads, dataport_rejects). */
  types: {
    integer: string;
    string: (maxLength: number) => string;
    datetime: string;
    text: string;
    bigint: string;
  };
  /** The engine's column type for a catalogue column: the one type mapping of this engine. */
  columnType(column: ColumnDef): string;
  /** A validated value as the driver wants it bound (null stays null). */
  encodeValue(column: ColumnDef, value: Value): unknown;
  /** A value as the driver returns it, back to the catalogue's exact form (see Value). */
  decodeValue(column: ColumnDef, value: unknown): Value;
  /** The engine's whole type mapping, for per-table codecs (types.ts codecsOf). */
  typeMap: TypeMap;
  /** String literals treat a backslash as an escape (MariaDB/MySQL without NO_BACKSLASH_ESCAPES). */
  backslashEscapes: boolean;
  /**
   * How a list of row values is written after IN: `((?, ?), (?, ?))` (MariaDB, MySQL, PostgreSQL) or
   * `(VALUES (?, ?), (?, ?))` (SQLite, which takes no bare list of row values).
   */
  rowValueList: 'list' | 'values';
  /**
   * `(a, b) > (?, ?)` is read as one index range (PostgreSQL, SQLite); MariaDB/MySQL need it spelled
   * out as `a > ? OR (a = ? AND b > ?)`.
   */
  rowComparisonRanges: boolean;
  /** Whether FOREIGN KEY ... DEFERRABLE is accepted. */
  deferrableForeignKeys: boolean;
  /** A UTC ISO datetime ('2021-01-01T00:00:00.000Z') as the driver wants it bound. */
  encodeDatetime(iso: string): unknown;
  /** A datetime value as the driver returns it, back to a UTC ISO string with milliseconds. */
  decodeDatetime(value: unknown): string;
  /**
   * Epoch millis of a datetime value as the driver returns it, without the ISO string in between
   * (a backup's hot path); undefined when it is not a valid datetime.
   */
  datetimeMillis(value: unknown): number | undefined;
}

/**
 * Writes rows into one table inside a bulk job's transaction. Engines with a native bulk path
 * (LOAD DATA, COPY) implement it here; the caller has already validated every row.
 */
export interface BulkWriter {
  write(rows: Row[]): Promise<void>;
  /**
   * Runs `fn` (a write of the job's own, e.g. the reject log) while no bulk statement holds the job's
   * connection. Costly on engines that stream (it ends the statement): batch what you write here.
   */
  between<T>(fn: () => Promise<T>): Promise<T>;
  /** Flushes what is buffered and applies it to the table; answers the rows written. */
  finish(): Promise<number>;
  /**
   * After finish(), the table that holds the job's rows as the table will be: the table itself, or a
   * staging table that replaces it when the job commits (MariaDB's replace by table swap). Checks of
   * the final state read this one.
   */
  holder(): string;
}

/** `upsert`: rows replace those with the same id; `replace`: the table ends up holding exactly these rows. */
export type WriteMode = 'upsert' | 'replace';

/** A transaction on a connection of its own, for one long load or restore. */
export interface BulkJob {
  /** Kysely bound to the job's transaction: reads see, and writes join, the job (see BulkWriter.between). */
  readonly db: Kysely<any>;
  /**
   * For reads that need not see the job's own writes (ids in other tables, for the data rules): free
   * while a writer streams a bulk statement over the job's connection. Committed data only.
   */
  readonly lookups: Kysely<any>;
  writer(table: TableDef, mode: WriteMode): Promise<BulkWriter>;
}

/**
 * Driver errors dataport acts on. A deadlock (or serialization failure) rolled the transaction back
 * and may simply be run again; busy means a lock held by a long writer (a load or restore), where the
 * caller is better told to come back.
 */
export type DbFailure = 'unavailable' | 'busy' | 'deadlock' | 'unique_violation';

export interface Engine {
  readonly kind: EngineKind;
  readonly caps: DialectCaps;
  /** The shared pool for short requests. */
  readonly db: Kysely<any>;
  /** A safe description for logs: never the password. */
  readonly description: string;
  /**
   * Runs `fn` in one transaction on a dedicated connection and commits when it resolves; rolls back
   * and rethrows when it throws, so a failed job leaves every table as it was.
   */
  bulkJob<T>(fn: (job: BulkJob) => Promise<T>): Promise<T>;
  /** Runs `fn` in one read-only transaction that sees a single consistent snapshot. */
  snapshot<T>(fn: (db: Kysely<any>) => Promise<T>): Promise<T>;
  /**
   * Leftovers of killed processes, for the start-up sweep: how many other dataport sessions hold a
   * connection to this database, and a way to drop the staging tables (`dataport_stage_*`) it left.
   */
  otherSessions(): Promise<number>;
  dropStagingTables(): Promise<number>;
  /** What a driver error means to us; null when it is none of these. */
  classify(err: unknown): DbFailure | null;
  close(): Promise<void>;
  /**
   * Runs `fn` in one short transaction on the shared pool and commits when it resolves; rolls back and
   * rethrows when it throws. For a batch insert, whose lookups and insert repeat with every request.
   */
  batchTransaction<T>(fn: (tx: BatchTransaction) => Promise<T>): Promise<T>;
  /** Reads tables' definitions, for the start-up comparison with the catalogue (migrator.ts). */
  readonly schema: SchemaReader;
}

export interface SchemaReader {
  /** The table as the database has it; null when there is no such table. */
  describe(db: Kysely<any>, table: string): Promise<TableShape | null>;
  /**
   * Runs `fn` on one connection holding a lock that other instances running it wait for (MariaDB
   * GET_LOCK, PostgreSQL an advisory lock inside a transaction, so its DDL is atomic too).
   */
  exclusive<T>(fn: (db: Kysely<any>) => Promise<T>): Promise<T>;
}

/** Which of `keys` (each the values of `columns`, in order) exist in `table`. */
export interface KeyRequest {
  table: TableDef;
  /** A primary or unique key of the table. */
  columns: string[];
  keys: Value[][];
}

/**
 * The statements a batch insert repeats, in their fastest form on each engine (prepared once per table on
 * SQLite, array-bound on PostgreSQL, no query builder), inside Engine.batchTransaction's transaction.
 */
export interface BatchTransaction {
  /** Kysely bound to the transaction, for every other statement. */
  readonly db: Kysely<any>;
  /**
   * For each request, the keys among its `keys` that exist in its `table`, as KeyValues (keys.ts
   * `keyValue`): a batch's references and its own keys, in one statement where that saves round trips.
   */
  existingKeys(requests: KeyRequest[]): Promise<Set<KeyValue>[]>;
  /**
   * Inserts validated rows whose primary keys existingKeys did not find. Answers the primary keys
   * (KeyValues) that a concurrent writer stored in between: those rows are not inserted, and the rest
   * are. A table without a primary key: every row is appended, and the answer is empty.
   */
  insert(table: TableDef, rows: Row[]): Promise<KeyValue[]>;
}
