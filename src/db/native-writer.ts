import type { Row } from '../tables/types.js';
import type { BulkWriter } from './engine.js';

/** Below this many rows a job writes with multi-row statements: a bulk statement costs more than it saves. */
export const NATIVE_FROM_ROWS = 1000;

/** One bulk statement (LOAD DATA, COPY) streaming into a staging table on a second connection. */
export interface StagingLoad {
  stage: string;
  /** Streams rows into the statement; resolves when it can take more. */
  write(rows: Row[]): Promise<void>;
  /** Ends the statement; resolves when the database has taken exactly `expected` rows. */
  end(expected: number): Promise<void>;
}

/** The engine-specific steps of a native bulk path; `nativeWriter` decides which to take, and when. */
export interface NativeSteps {
  /** Rows may go straight into the table: it is empty, or the job replaces it. */
  direct: boolean;
  /** Before the first direct batch (a replace defers foreign-key checks and empties the table). */
  beginDirect(): Promise<void>;
  /** Starts one bulk statement of `rows` straight into the table; resolves when its count is checked. */
  loadDirect(rows: Row[]): Promise<void>;
  /** After the last direct batch. */
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
 * empty table (or a replace) each write() is one bulk statement straight into the table, and it runs
 * in the server while the caller prepares the next batch. An upsert over existing rows streams every
 * row into ONE bulk statement into a staging table, merged by finish().
 */
export function nativeWriter(steps: NativeSteps): BulkWriter {
  let pending: Row[] = [];
  let staging: StagingLoad | null = null;
  let inflight: Promise<void> | null = null;
  let started = false;
  let written = 0;
  let finished = false;

  const loadDirect = async (rows: Row[]) => {
    if (inflight) await inflight;
    if (!started) {
      started = true;
      await steps.beginDirect();
    }
    inflight = steps.loadDirect(rows);
    inflight.catch(() => undefined); // observed by the next write() or finish()
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
      if (steps.direct) return loadDirect(all);
      staging ??= await steps.openStaging();
      await staging.write(all);
    },
    async finish() {
      if (finished) return written;
      finished = true;
      if (started) {
        await inflight;
        await steps.endDirect();
      } else if (staging) {
        await staging.end(written);
        await steps.merge(staging.stage);
      } else {
        await steps.small(pending);
      }
      return written;
    },
  };
}
