import { createHash, randomUUID } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Context, Progress } from '../../context.js';
import type { BulkJob, BulkWriter } from '../../db/engine.js';
import { AppError } from '../../errors.js';
import { keys, normalizeKey } from '../../storage/keys.js';
import { RowGate } from '../../tables/rules.js';
import type { Row, TableDef } from '../../tables/types.js';
import { checkObject, type Checked, type Violation } from '../../tables/validate.js';
import { keysOn } from '../loads/lookups.js';
import { insertRejects } from '../rejects/rejects.repo.js';
import { rejectRecord } from '../runs/reject.js';
import { failRun, finishRun, startRun } from '../runs/runs.repo.js';
import { createAvroDecoder } from './avro.js';
import { checkReferences, ReferenceCheck } from './references.js';

export interface RestoreResult {
  table: string;
  key: string;
  rows_restored: number;
  duration_ms: number;
}

/** Records checked and written per round trip, as for historic loads. */
const BATCH = 5000;

/**
 * Replaces the rows of `table` with those of a backup (the latest, or `key` from its history), in one
 * transaction: afterwards the table holds exactly the backup's rows, or, if anything fails, exactly
 * what it held before.
 * @throws unknown_table, invalid_key, backup_not_found, invalid_backup, restore_conflict, table_busy
 */
export async function restoreTable(
  ctx: Context,
  tableName: string,
  options: { key?: string; progress?: Progress } = {},
): Promise<RestoreResult> {
  const table = ctx.catalogue.get(tableName);
  const key = options.key === undefined ? keys.backup(table.name) : checkBackupKey(table.name, options.key);
  const { engine } = ctx;
  return ctx.locks.run(table.name, 'restore', async () => {
    const started = Date.now();
    const input = await ctx.store.read(key).catch((e) => {
      if (e instanceof AppError && e.code === 'object_not_found') {
        throw new AppError('backup_not_found', `no backup of ${table.name} at ${key} in ${ctx.store.url}`, {
          cause: e,
        });
      }
      throw e;
    });
    const expected = await expectedChecksum(ctx, key);
    const runId = randomUUID();
    await startRun(engine.db, { id: runId, table: table.name, kind: 'restore', source: key });
    const bad: BadRecord = {};
    let restored: number;
    try {
      restored = await engine.bulkJob((job) =>
        restoreRows(ctx, job, table, input, { key, expected }, bad, options.progress),
      );
    } catch (e) {
      input.destroy();
      // Written after the rollback, on the shared pool, so that the reject outlives the failed job.
      if (bad.record) {
        const { index, violation, raw } = bad.record;
        const record = rejectRecord(runId, table.name, key, violation, raw, new Date().toISOString(), {
          index,
        });
        await insertRejects(engine.db, [record]).catch((err) =>
          ctx.log.error({ err }, 'could not log a reject'),
        );
      }
      await failRun(engine.db, runId, (e as Error).message).catch(() => undefined);
      throw withKey(e, key);
    }
    await finishRun(engine.db, runId, { rows_read: restored, loaded: restored, rejected: 0 });
    const result = { table: table.name, key, rows_restored: restored, duration_ms: Date.now() - started };
    ctx.metrics.restore(table.name, { ms: result.duration_ms, rows: restored });
    ctx.log.info(result, 'restore finished');
    return result;
  });
}

/** The first record that broke a rule, kept for the reject log. */
interface BadRecord {
  record?: { index: number; violation: Violation; raw: string };
}

async function restoreRows(
  ctx: Context,
  job: BulkJob,
  table: TableDef,
  input: Readable,
  { key, expected }: { key: string; expected: string | null },
  bad: BadRecord,
  progress?: Progress,
): Promise<number> {
  // Only duplicate keys are checked per record. A broken foreign key is a conflict of the whole restore
  // (409, naming the keys), not a bad record: the references are checked apart, see references.ts.
  const gate = new RowGate(table, ctx.catalogue, 'replace', keysOn(job.lookups, ctx.engine.caps), {
    checkReferences: false,
  });
  const references = new ReferenceCheck(job.lookups, ctx.engine.caps, ctx.catalogue, table);
  // Created with the first batch, so that a file refused on its header never empties the table.
  let writer: BulkWriter | undefined;
  let batch: { raw: unknown; checked: Checked }[] = [];
  let seen = 0;
  let written = 0;
  const refuse = (index: number, violation: Violation, raw: unknown): never => {
    bad.record = { index, violation, raw: JSON.stringify(raw) };
    const message = `invalid backup: record ${index} of ${key} breaks a rule of ${table.name}: ${violation.message} (${violation.reason}); nothing was restored`;
    throw new AppError('invalid_backup', message, {
      details: { index, column: violation.column, reason: violation.reason },
    });
  };
  const flush = async () => {
    const results = await gate.check(batch.map((b) => b.checked));
    const first = seen - batch.length;
    const rows = results.map((r, i) => (r.ok ? r.row : refuse(first + i, r.violation, batch[i].raw)));
    await references.add(rows);
    writer ??= await job.writer(table, 'replace');
    if (rows.length) await writer.write(rows);
    written += rows.length;
    batch = [];
    progress?.(written);
  };
  const digest = createHash('sha256');
  const hashed = new Transform({
    transform(chunk: Buffer, _encoding, cb) {
      digest.update(chunk);
      cb(null, chunk);
    },
  });
  await pipeline(input, hashed, createAvroDecoder(table), async (records: AsyncIterable<Row>) => {
    for await (const record of records) {
      // A restored row must pass the same rules as a loaded one, whoever wrote the file.
      const checked = checkObject(table, record);
      if (!checked.ok) refuse(seen, checked.violation, record);
      seen++;
      batch.push({ raw: record, checked });
      if (batch.length >= BATCH) await flush();
    }
  });
  await flush();
  const actual = digest.digest('hex');
  if (expected && actual !== expected) {
    throw new AppError(
      'invalid_backup',
      `invalid backup: ${key} does not match its checksum ${keys.checksum(key)} (sha256 ${actual}, expected ${expected}); the file was changed or damaged after it was written`,
    );
  }
  await references.verify();
  const restored = await writer!.finish();
  await checkReferences(job.db, ctx.engine.caps, ctx.catalogue, table, writer!.holder());
  return restored;
}

/** The sha256 written beside the backup, or null for a file without one (written by another tool). */
async function expectedChecksum(ctx: Context, key: string): Promise<string | null> {
  const sidecar = keys.checksum(key);
  if (!(await ctx.store.stat(sidecar))) {
    ctx.log.warn({ key }, 'backup has no checksum file; restoring without a checksum check');
    return null;
  }
  let text = '';
  for await (const chunk of await ctx.store.read(sidecar)) text += chunk;
  const hex = /^[0-9a-f]{64}/.exec(text.trim())?.[0];
  if (!hex)
    throw new AppError('invalid_backup', `invalid backup: ${sidecar} does not hold a sha256 checksum`);
  return hex;
}

/** A `?key=` must name an object under the table's own backup prefix. @throws invalid_key */
function checkBackupKey(table: string, key: string): string {
  const prefix = keys.backupPrefix(table);
  if (!normalizeKey(key).startsWith(prefix) || key.length === prefix.length) {
    throw new AppError(
      'invalid_key',
      `key '${key.slice(0, 200)}' is not a backup of ${table}: it must start with ${prefix} (see GET /backups/${table})`,
    );
  }
  return key;
}

/** Decoder errors say what is wrong with the bytes; add which file it was. */
function withKey(e: unknown, key: string): unknown {
  if (!(e instanceof AppError) || e.code !== 'invalid_backup' || e.message.includes(key)) return e;
  const message = `${e.message.replace(/^invalid backup: /, `invalid backup ${key}: `)}; nothing was restored`;
  return new AppError('invalid_backup', message, { cause: e, details: e.details });
}
