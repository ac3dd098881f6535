import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Context, Progress } from '../../context.js';
import { keysOn } from './lookups.js';
import { AppError } from '../../errors.js';
import { countReasons } from '../../observability/metrics.js';
import { RowGate } from '../../tables/rules.js';
import type { TableDef } from '../../tables/types.js';
import type { Checked } from '../../tables/validate.js';
import { insertRejects, type RejectRecord } from '../rejects/rejects.repo.js';
import { rejectRecord } from '../runs/reject.js';
import { failRun, finishRun, startRun } from '../runs/runs.repo.js';
import { csvRows } from './csv-rows.js';

export interface LoadResult {
  table: string;
  source: string;
  load_id: string;
  rows_read: number;
  loaded: number;
  rejected: number;
}

/** Rows validated and written per round trip: large enough to amortise lookups, small enough for memory. */
const BATCH = 5000;
/** Rejects held before they are written (each write ends the writer's bulk statement): bounded memory. */
const REJECTS_HELD = 5000;
const REJECT_CHARS_HELD = 8_000_000;

/**
 * Loads the table's historic CSV (its `source` key, `database/{table}/historic/{table}.csv` unless
 * the catalogue says otherwise) from the bucket. Rows are upserted by primary key, so running it again
 * gives the same table; a table without a primary key is replaced by the file's rows. The whole load
 * is one transaction, so a failure leaves the table as it was.
 * @throws unknown_table, source_not_found, invalid_csv, table_busy
 */
export async function loadHistoric(
  ctx: Context,
  tableName: string,
  progress?: Progress,
): Promise<LoadResult> {
  const table = ctx.catalogue.get(tableName);
  const key = table.source;
  return ctx.locks.run(table.name, 'historic load', async () => {
    const input = await ctx.store.read(key).catch((e) => {
      if (e instanceof AppError && e.code === 'object_not_found') {
        throw new AppError(
          'source_not_found',
          `no historic file for ${table.name}: expected ${key} in ${ctx.store.url}`,
          { cause: e },
        );
      }
      throw e;
    });
    return loadCsv(ctx, table, input, key, progress);
  });
}

/** Loads CSV records from any stream (the bucket, or a local file from the CLI) with the same rules. */
export async function loadCsv(
  ctx: Context,
  table: TableDef,
  input: Readable,
  source: string,
  progress?: Progress,
): Promise<LoadResult> {
  const { engine } = ctx;
  const loadId = randomUUID();
  const started = Date.now();
  await startRun(engine.db, { id: loadId, table: table.name, kind: 'historic', source });
  const totals = { rows_read: 0, loaded: 0, rejected: 0 };
  const reasons: Record<string, number> = {};
  try {
    await engine.bulkJob(async (job) => {
      // Without a key there is nothing to upsert by: the file's rows become the table.
      const mode = table.primary_key.length ? 'upsert' : 'replace';
      const gate = new RowGate(table, ctx.catalogue, mode, keysOn(job.lookups, engine.caps));
      const writer = await job.writer(table, mode);
      let batch: { line: number; raw: string; checked: Checked }[] = [];
      // Rejects wait here until there are enough of them: writing them ends the writer's bulk statement.
      let rejects: RejectRecord[] = [];
      let rejectChars = 0;
      const logRejects = async () => {
        const now = rejects;
        rejects = [];
        rejectChars = 0;
        if (now.length) await writer.between(() => insertRejects(job.db, now));
      };
      const flush = async () => {
        const results = await gate.check(batch.map((b) => b.checked));
        const rows = [];
        const now = new Date().toISOString();
        for (let i = 0; i < results.length; i++) {
          const r = results[i];
          if (r.ok) rows.push(r.row);
          else {
            const record = rejectRecord(loadId, table.name, source, r.violation, batch[i].raw, now, {
              line: batch[i].line,
            });
            rejects.push(record);
            rejectChars += record.raw.length;
            totals.rejected++;
            countReasons([record], reasons);
          }
        }
        await writer.write(rows);
        if (rejects.length >= REJECTS_HELD || rejectChars >= REJECT_CHARS_HELD) await logRejects();
        batch = [];
        progress?.(totals.rows_read);
      };
      for await (const row of csvRows(table, input)) {
        totals.rows_read++;
        batch.push(row);
        if (batch.length >= BATCH) await flush();
      }
      if (totals.rows_read === 0)
        throw new AppError('invalid_csv', `${source} holds no rows (empty, or only blank lines)`);
      await flush();
      await logRejects();
      totals.loaded = await writer.finish();
    });
  } catch (e) {
    await failRun(engine.db, loadId, (e as Error).message).catch(() => undefined);
    throw e;
  }
  await finishRun(engine.db, loadId, totals);
  ctx.metrics.rows(table.name, 'historic', totals.loaded, reasons);
  ctx.log.info(
    {
      table: table.name,
      source,
      load_id: loadId,
      ...totals,
      rejects_by_reason: reasons,
      duration_ms: Date.now() - started,
    },
    'historic load finished',
  );
  return { table: table.name, source, load_id: loadId, ...totals };
}
