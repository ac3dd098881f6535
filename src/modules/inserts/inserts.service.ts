import { randomUUID } from 'node:crypto';
import { stringify } from 'lossless-json';
import { setTimeout } from 'node:timers/promises';
import { Readable } from 'node:stream';
import type { Context } from '../../context.js';
import { AppError } from '../../errors.js';
import { countReasons } from '../../observability/metrics.js';
import { keyOf, type KeyValue } from '../../tables/keys.js';
import { alreadyStored, RowGate } from '../../tables/rules.js';
import type { Row, TableDef } from '../../tables/types.js';
import { checkObject, type Checked, type Violation } from '../../tables/validate.js';
import { csvRows } from '../loads/csv-rows.js';
import { insertRejects, type RejectRecord } from '../rejects/rejects.repo.js';
import { rejectRecord } from '../runs/reject.js';
import { recordRun } from '../runs/runs.repo.js';

export const MAX_BATCH = 1000;

export interface InsertReject {
  index: number;
  column: string | null;
  reason: string;
  message: string;
}

export interface InsertResult {
  table: string;
  load_id: string;
  received: number;
  inserted: number;
  rejected: number;
  rejects: InsertReject[];
}

interface Candidate {
  /** The row as sent: a CSV line, or a JSON value turned back into text only if it is refused. */
  raw: string | { json: unknown };
  checked: Checked;
}

/** Runs of a batch that a deadlock rolled back, before the caller gets 503 database_busy. */
const ATTEMPTS = 5;

/** An atomic batch lost an id to a concurrent writer after its check: it runs again, and refuses. */
class TakenMeanwhile extends Error {}

/**
 * Inserts 1..1000 rows given as parsed JSON (an array of objects, or one object) or as CSV text.
 * Valid rows go in one transaction; invalid ones are refused and logged. With `atomic`, one invalid
 * row refuses the whole batch (422 validation_failed; the rejects are still logged).
 * @throws unknown_table, empty_batch, batch_too_large, invalid_csv, invalid_request, validation_failed
 */
export async function insertBatch(
  ctx: Context,
  tableName: string,
  body: unknown,
  options: { atomic?: boolean; format: 'json' | 'csv'; source?: string },
): Promise<InsertResult> {
  const table = ctx.catalogue.get(tableName);
  const candidates =
    options.format === 'csv' ? await fromCsv(table, String(body ?? '')) : fromJson(table, body);
  const source = options.source ?? 'payload';
  const { engine } = ctx;
  const loadId = randomUUID();
  const started = Date.now();
  const run = {
    id: loadId,
    table: table.name,
    kind: 'payload' as const,
    source,
    startedAt: new Date().toISOString(),
  };
  let result: InsertResult;
  try {
    result = await withRetry(ctx, () =>
      engine.batchTransaction(async (tx) => {
        const gate = new RowGate(table, ctx.catalogue, 'refuse', tx.existingKeys);
        const results = await gate.check(candidates.map((c) => c.checked));
        const now = new Date().toISOString();
        const rows: Row[] = [];
        const primary = table.primary_key.length ? keyOf(table.primary_key) : null;
        const rowIndex = new Map<KeyValue, number>();
        const rejects: RejectRecord[] = [];
        const refuse = (violation: Violation, index: number) =>
          rejects.push(
            rejectRecord(loadId, table.name, source, violation, rawText(candidates[index]), now, { index }),
          );
        results.forEach((r, index) => {
          if (!r.ok) return refuse(r.violation, index);
          rows.push(r.row);
          if (primary) rowIndex.set(primary.of(r.row)!, index);
        });
        const refuseAll = options.atomic === true && rejects.length > 0;
        const taken = refuseAll ? [] : await tx.insert(table, rows);
        if (taken.length > 0 && options.atomic) throw new TakenMeanwhile();
        for (const key of taken) refuse(alreadyStored(table, key), rowIndex.get(key)!);
        if (taken.length > 0) rejects.sort((a, b) => a.row_index! - b.row_index!);
        await insertRejects(tx.db, rejects);
        const inserted = refuseAll ? 0 : rows.length - taken.length;
        await recordRun(tx.db, run, {
          rows_read: candidates.length,
          loaded: inserted,
          rejected: rejects.length,
        });
        return {
          table: table.name,
          load_id: loadId,
          received: candidates.length,
          inserted,
          rejected: rejects.length,
          rejects: rejects.map((r) => ({
            index: r.row_index!,
            column: r.column_name,
            reason: r.reason,
            message: r.message,
          })),
        };
      }),
    );
  } catch (e) {
    await recordRun(engine.db, run, { error: (e as Error).message }).catch(() => undefined);
    throw e;
  }
  const reasons = countReasons(result.rejects);
  ctx.metrics.rows(table.name, 'payload', result.inserted, reasons);
  ctx.log.info(
    {
      table: table.name,
      load_id: loadId,
      received: result.received,
      inserted: result.inserted,
      rejected: result.rejected,
      rejects_by_reason: reasons,
      duration_ms: Date.now() - started,
    },
    'batch insert finished',
  );
  if (options.atomic && result.rejected > 0) {
    throw new AppError(
      'validation_failed',
      `${result.rejected} of ${result.received} rows break the data rules; nothing was inserted (atomic=true)`,
      {
        details: { load_id: loadId, rejects: result.rejects },
      },
    );
  }
  return result;
}

async function withRetry<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      // A deadlock rolled the whole batch back, so it is safe to run again, after a random pause that
      // keeps the same batches from meeting again. Busy means a long writer holds the table (an SQLite
      // load): one more try, then the caller gets 503 to come back later.
      // A unique key that another batch stored between this one's check and its insert: run again, and
      // the check refuses the row as duplicate_id.
      const failure = e instanceof TakenMeanwhile ? 'deadlock' : ctx.engine.classify(e);
      const kind = failure === 'unique_violation' ? 'deadlock' : failure;
      const again = kind === 'deadlock' ? attempt < ATTEMPTS : kind === 'busy' && attempt < 2;
      if (!again && (e instanceof TakenMeanwhile || failure === 'unique_violation'))
        throw new AppError(
          'database_busy',
          'other writers keep taking keys of this batch; try again shortly',
          {
            cause: e,
          },
        );
      if (!again) throw e;
      if (kind === 'deadlock') await setTimeout(Math.random() * 20 * attempt);
    }
  }
}

function checkCount(n: number) {
  if (n === 0) throw new AppError('empty_batch', 'the batch holds no rows; send 1 to 1000');
  if (n > MAX_BATCH)
    throw new AppError(
      'batch_too_large',
      `the batch holds more than ${MAX_BATCH} rows; split it into batches of at most ${MAX_BATCH}`,
    );
}

function fromJson(table: TableDef, body: unknown): Candidate[] {
  const list = Array.isArray(body) ? body : body !== null && typeof body === 'object' ? [body] : null;
  if (!list)
    throw new AppError('invalid_request', 'the body must be a JSON array of row objects, or one row object');
  checkCount(list.length);
  return list.map((value) => ({ raw: { json: value }, checked: checkObject(table, value) }));
}

function rawText({ raw }: Candidate): string {
  // lossless-json writes the exact numbers of tables with bigint or decimal columns as they came.
  return typeof raw === 'string' ? raw : (stringify(raw.json) ?? String(raw.json));
}

/** CSV lines in the table's historic format (with its header line when the table's csv has one). */
async function fromCsv(table: TableDef, text: string): Promise<Candidate[]> {
  const candidates: Candidate[] = [];
  for await (const row of csvRows(table, Readable.from([text]))) {
    if (candidates.length === MAX_BATCH) checkCount(MAX_BATCH + 1);
    candidates.push({ raw: row.raw, checked: row.checked });
  }
  checkCount(candidates.length);
  return candidates;
}
