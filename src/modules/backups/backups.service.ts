import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import type { Context, Progress } from '../../context.js';
import { currentVersion } from '../../db/migrator.js';
import type { DialectCaps } from '../../db/engine.js';
import { keys } from '../../storage/keys.js';
import type { ObjectInfo } from '../../storage/types.js';
import type { Row, TableDef } from '../../tables/types.js';
import { createAvroEncoder, readAvroHeader, type AvroCodec } from './avro.js';
import { pageRows } from '../../db/rows.js';
import { countRows } from './backups.repo.js';

export interface BackupResult {
  table: string;
  /** The latest backup: `database/{table}/backup/{table}.avro`. */
  key: string;
  /** The same bytes, kept: `database/{table}/backup/{table}-{YYYYMMDDTHHMMSSmmmZ}.avro`. */
  history_key: string;
  rows: number;
  bytes: number;
  codec: AvroCodec;
  sha256: string;
  created_at: string;
}

export interface BackupEntry {
  key: string;
  /** From the file's header; null when the header cannot be read. */
  rows: number | null;
  bytes: number;
  created_at: string;
}

/** Headers read at once when listing the history. */
const HEADER_READS = 8;
const CONTENT_TYPE = 'application/avro';

/**
 * Backs `table` up from one consistent snapshot into `keys.backup(table)`, keeping a history copy.
 * Both objects are published atomically, so a failed backup leaves the previous files as they were.
 * @throws unknown_table, table_busy, storage errors
 */
export async function backupTable(
  ctx: Context,
  tableName: string,
  options: { codec?: AvroCodec; progress?: Progress } = {},
): Promise<BackupResult> {
  const table = ctx.catalogue.get(tableName);
  const codec = options.codec ?? 'deflate';
  return ctx.locks.run(table.name, 'backup', async () => {
    const started = Date.now();
    const schemaVersion = (await currentVersion(ctx.migrator)) ?? 'none';
    const { createdAt, historyKey } = await freeHistoryKey(ctx, table.name);
    const key = keys.backup(table.name);
    // COUNT(*) and the rows come from the same snapshot, so the header's row count is exact and rows
    // committed by others meanwhile are either all in (committed before it began) or all out.
    const written = await ctx.engine.snapshot(async (db) => {
      const rowCount = await countRows(db, table.name);
      const encoder = createAvroEncoder(table, { codec, metadata: { rowCount, createdAt, schemaVersion } });
      // One page ahead at most: the encoder holds another, and the repository reads a third.
      const rows = Readable.from(pagesOf(ctx, db, table, options.progress), { highWaterMark: 1 });
      const digest = createHash('sha256');
      let bytes = 0;
      const measure = new Transform({
        transform(chunk: Buffer, _encoding, cb) {
          digest.update(chunk);
          bytes += chunk.length;
          cb(null, chunk);
        },
      });
      // store.write consumes `measure` while the pipeline fills it; either failing destroys both, and
      // waiting for both to settle means a failed write has cleaned up before we report it.
      const [encoded, stored] = await Promise.allSettled([
        pipeline(rows, encoder, measure),
        ctx.store.write(historyKey, measure, { contentType: CONTENT_TYPE }),
      ]);
      // One failure tears down both sides; report the cause, not the other side's knock-on error.
      if (encoded.status === 'rejected' && !isKnockOn(encoded.reason)) throw encoded.reason;
      if (stored.status === 'rejected') throw stored.reason;
      if (encoded.status === 'rejected') throw encoded.reason;
      return { rows: rowCount, bytes, sha256: digest.digest('hex') };
    });
    // The latest key is published second, as a copy of the complete history object rather than by
    // writing both in one pass: each write is atomic on its own, but two writes fed from one stream
    // would publish in whichever order they finish, and a latest file could then exist with no history
    // copy. The copy is server-side (CopyObject, a GCS rewrite, copyFile(2)): no bytes pass through here.
    try {
      await writeChecksum(ctx, historyKey, written.sha256);
      // The checksum goes first: a crash between it and the copy leaves a latest file that fails its
      // check (422, restore the history key instead), never one that restores unchecked.
      await writeChecksum(ctx, key, written.sha256);
      await ctx.store.copy(historyKey, key, { contentType: CONTENT_TYPE });
    } catch (e) {
      // Leave no history entry for a backup that did not become the latest one.
      await ctx.store.delete(historyKey).catch(() => undefined);
      await ctx.store.delete(keys.checksum(historyKey)).catch(() => undefined);
      throw e;
    }
    const result: BackupResult = {
      table: table.name,
      key,
      history_key: historyKey,
      ...written,
      codec,
      created_at: createdAt.toISOString(),
    };
    const ms = Date.now() - started;
    ctx.metrics.backup(table.name, { ms, bytes: result.bytes, rows: result.rows });
    ctx.log.info({ ...result, duration_ms: ms }, 'backup finished');
    return result;
  });
}

/**
 * Avro's deflate and null codecs carry no checksum, so a flipped bit could restore a changed value.
 * Each backup gets a `<key>.sha256` beside it, which restores verify before they commit.
 */
async function writeChecksum(ctx: Context, key: string, sha256: string): Promise<void> {
  const line = `${sha256}  ${key.slice(key.lastIndexOf('/') + 1)}\n`;
  await ctx.store.write(keys.checksum(key), Readable.from([Buffer.from(line)]), {
    contentType: 'text/plain',
  });
}

/** The table's rows as encoder records, a page (an array, one write to the encoder) at a time. */
async function* pagesOf(
  ctx: Context,
  db: Kysely<any>,
  table: TableDef,
  progress?: Progress,
): AsyncGenerator<Row[]> {
  const toRecord = recordReader(table, ctx.engine.caps);
  let n = 0;
  for await (const page of pageRows(db, ctx.engine.caps, table)) {
    const records = page.map(toRecord);
    n += records.length;
    progress?.(n);
    yield records;
  }
  progress?.(n);
}

/**
 * The driver's rows as the encoder's records: each value decoded to its exact form (caps.decodeValue),
 * but a datetime handed over as epoch millis read straight from the driver's text where it can be,
 * because building an ISO string only for the encoder to parse it again cost more than encoding the
 * rest of the row.
 */
function recordReader(table: TableDef, caps: DialectCaps): (row: Record<string, unknown>) => Row {
  const columns = table.columns.map((c) => ({
    name: c.name,
    read:
      c.type === 'datetime'
        ? (v: unknown) => (v === null ? null : (caps.datetimeMillis(v) ?? caps.decodeValue(c, v)))
        : (v: unknown) => caps.decodeValue(c, v),
  }));
  return (row) => {
    const out: Row = {};
    for (const { name, read } of columns) out[name] = read(row[name]) as Row[string];
    return out;
  };
}

/** What a stream reports when another stream of its pipeline failed first. */
function isKnockOn(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ABORT_ERR' || code === 'ERR_STREAM_DESTROYED';
}

/** `20240501T100000123Z` for 2024-05-01T10:00:00.123Z: sortable, and safe in every store's keys. */
function stampOf(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

/** A creation time whose history key is not taken (two backups within one millisecond get distinct keys). */
async function freeHistoryKey(ctx: Context, table: string): Promise<{ createdAt: Date; historyKey: string }> {
  for (let ms = Date.now(); ; ms++) {
    const createdAt = new Date(ms);
    const historyKey = keys.backupHistory(table, stampOf(createdAt));
    if (!(await ctx.store.stat(historyKey))) return { createdAt, historyKey };
  }
}

/**
 * The history of `table`'s backups, newest first. Rows and creation time come from each file's header
 * (only the header is read, a few hundred bytes), so the files stay the single source of truth: there is
 * no manifest that a copied, deleted or failed file could contradict.
 * @throws unknown_table, storage errors
 */
export async function listBackups(ctx: Context, tableName: string): Promise<BackupEntry[]> {
  const table = ctx.catalogue.get(tableName);
  const start = `${keys.backupPrefix(table.name)}${table.name}-`;
  const found: ObjectInfo[] = [];
  for await (const info of ctx.store.list(keys.backupPrefix(table.name))) {
    if (info.key.startsWith(start) && /^\d{8}T\d{9}Z\.avro$/.test(info.key.slice(start.length)))
      found.push(info);
  }
  // Stamps have a fixed width, so key order is time order.
  found.sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
  const entries: BackupEntry[] = [];
  for (let i = 0; i < found.length; i += HEADER_READS) {
    entries.push(...(await Promise.all(found.slice(i, i + HEADER_READS).map((info) => entryOf(ctx, info)))));
  }
  return entries;
}

async function entryOf(ctx: Context, info: ObjectInfo): Promise<BackupEntry> {
  const stamp = /(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z\.avro$/.exec(info.key)!;
  const fromKey = `${stamp[1]}-${stamp[2]}-${stamp[3]}T${stamp[4]}:${stamp[5]}:${stamp[6]}.${stamp[7]}Z`;
  const header = await readAvroHeader(await ctx.store.read(info.key)).catch(() => null);
  const rows = header?.['dataport.row_count'];
  return {
    key: info.key,
    rows: rows !== undefined && /^\d{1,15}$/.test(rows) ? Number(rows) : null,
    bytes: info.size,
    created_at: header?.['dataport.created_at'] ?? fromKey,
  };
}

// Restores live in their own file; exported here too, so that the routes and the CLI import one service.
export { restoreTable, type RestoreResult } from './restore.service.js';
