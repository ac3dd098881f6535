import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Row } from '../tables/types.js';
import type { BulkWriter } from './engine.js';

/** Below this many rows a job writes with multi-row statements: a bulk statement costs more than it saves. */
export const NATIVE_FROM_ROWS = 1000;

/** One bulk statement (LOAD DATA, COPY) that rows stream into until end(). */
export interface StreamLoad {
  /** Streams rows into the statement; resolves when it can take more. */
  write(rows: Row[]): Promise<void>;
  /** Ends the statement; resolves when the database has taken exactly `expected` rows. */
  end(expected: number): Promise<void>;
  /** Ends the statement early (the job is failing and will roll back); resolves when the connection is free. */
  abort(): Promise<void>;
}

/**
 * A StreamLoad over `input`, the stream one bulk statement reads; `done` settles with the statement and
 * `check` judges its result against the rows written.
 */
export function streamInto<R>(
  input: Writable,
  done: Promise<R>,
  encode: (rows: Row[]) => string,
  check: (result: R, expected: number) => void | Promise<void>,
): StreamLoad {
  done.catch(() => undefined); // observed in write(), end() and abort()
  return {
    async write(rows) {
      if (!input.write(encode(rows))) await Promise.race([once(input, 'drain'), done]);
    },
    async end(expected) {
      input.end();
      await check(await done, expected);
    },
    // Ends the statement cleanly rather than with an error: the rows it took are rolled back with the
    // job (or dropped with the staging table), and mysql2 hangs on a stream destroyed before the
    // server asked for it.
    async abort() {
      if (input.writableEnded) return;
      input.end();
      await done.catch(() => undefined);
    },
  };
}

/** A bulk statement into a new staging table on a second connection. */
export interface StagingLoad extends StreamLoad {
  stage: string;
}

/** The engine-specific steps of a native bulk path; `nativeWriter` decides which to take, and when. */
export interface NativeSteps {
  /** Rows may go straight into the table: it is empty, or the job replaces it. */
  direct: boolean;
  /** Before the first direct statement (a replace defers foreign-key checks and empties the table). */
  beginDirect(): Promise<void>;
  /** Opens one bulk statement straight into the table, on the job's connection. */
  openDirect(): Promise<StreamLoad>;
  /** After the last direct statement. */
  endDirect(): Promise<void>;
  /** Opens one bulk statement into a new staging table. */
  openStaging(): Promise<StagingLoad>;
  /** Applies the staging table to the table (upsert or replace) in the job's transaction. */
  merge(stage: string): Promise<void>;
  /** A few rows: multi-row statements in the job's transaction. */
  small(rows: Row[]): Promise<void>;
}

/**
 * The bulk writer shared by the server engines. A job of a few rows uses multi-row statements. Into an
 * empty table (or a replace) rows stream into ONE bulk statement on the job's connection, which the
 * database applies while the caller validates the next rows: one statement per load, not one per batch,
 * is what brings a load close to the database's own loader (../shared/PERF-NOTES.md). The statement
 * holds the job's connection, so the job's reads go to `BulkJob.lookups`, and its own writes (the reject
 * log) wait for `between()`, which ends the statement and opens the next one on the next write. An
 * upsert over existing rows streams every row into ONE statement into a staging table, merged by finish().
 */
export function nativeWriter(steps: NativeSteps): Omit<BulkWriter, 'holder'> & { abort(): Promise<void> } {
  let pending: Row[] = [];
  let staging: StagingLoad | null = null;
  let direct: StreamLoad | null = null;
  let inDirect = 0;
  let started = false;
  let written = 0;
  let finished = false;

  const endDirect = async () => {
    const load = direct;
    direct = null;
    if (load) await load.end(inDirect);
    inDirect = 0;
  };

  return {
    async write(rows) {
      if (finished) throw new Error('write() after finish()');
      written += rows.length;
      const all = pending.length ? [...pending, ...rows] : rows;
      if (!started && !staging && all.length <= NATIVE_FROM_ROWS) {
        pending = all;
        return;
      }
      pending = [];
      if (all.length === 0) return;
      if (steps.direct) {
        if (!started) {
          started = true;
          await steps.beginDirect();
        }
        direct ??= await steps.openDirect();
        inDirect += all.length;
        return direct.write(all);
      }
      staging ??= await steps.openStaging();
      await staging.write(all);
    },
    async between(fn) {
      await endDirect();
      return fn();
    },
    async finish() {
      if (finished) return written;
      finished = true;
      if (started) {
        await endDirect();
        await steps.endDirect();
      } else if (staging) {
        await staging.end(written);
        await steps.merge(staging.stage);
      } else {
        await steps.small(pending);
      }
      return written;
    },
    async abort() {
      finished = true;
      const load = direct;
      direct = null;
      await load?.abort();
    },
  };
}
