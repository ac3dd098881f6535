import { randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';
import type avro from 'avsc';
import { AppError } from '../../errors.js';
import type { Row, TableDef } from '../../tables/types.js';
import { compressors, HEADER, LONG, MAGIC, type AvroCodec, type Compress } from './container.js';
import { avroSchemaText, avroTypeFor } from './schema.js';

/** Header metadata the backup service knows before the first row is streamed. */
export interface AvroBackupMetadata {
  /** From `SELECT COUNT(*)` in the same snapshot as the row stream; the encoder enforces it. */
  rowCount: number;
  createdAt: Date | string;
  /** The last migration applied. */
  schemaVersion: string;
}

// Java's default sync interval is 64 KB too; small blocks keep memory flat on both sides.
const BLOCK_SIZE = 64 * 1024;

/** Blocks handed to the codec and not yet emitted: enough for deflate to keep pace, few enough to stay small. */
const BLOCKS_IN_FLIGHT = 4;

/**
 * A stream that takes Row objects, or arrays of them, and emits the bytes of one Avro object container
 * file. It fails (and never emits the final block) unless exactly `metadata.rowCount` rows were written,
 * so a file whose header lies about its row count can never be published.
 * @throws AppError internal_error for a row count mismatch or a row that does not fit the schema.
 */
export function createAvroEncoder(
  table: TableDef,
  options: { codec?: AvroCodec; metadata: AvroBackupMetadata },
): Duplex {
  return new AvroEncoder(table, options.codec ?? 'deflate', options.metadata);
}

/**
 * The container framing is written here, and avsc only encodes the header and the records: avsc's
 * BlockEncoder holds the writer until the consumer has read each compressed block, so deflate (in the
 * thread pool) never overlapped encoding, and it takes one stream write per row. Blocks are cut exactly
 * as avsc cuts them (a record that overflows the block starts the next one), so files are unchanged.
 */
class AvroEncoder extends Duplex {
  private readonly type: avro.Type;
  private readonly compress: Compress;
  private readonly sync = randomBytes(16);
  private blockSize = BLOCK_SIZE;
  private block = Buffer.allocUnsafe(BLOCK_SIZE);
  private pos = 0;
  private blockRows = 0;
  private written = 0;
  /** Blocks in file order; each gets its framed bytes when its codec answers. */
  private readonly inFlight: { bytes?: Buffer }[] = [];
  /** The callback of the write (or of the end) that waits for blocks in flight or for the reader. */
  private waiting?: () => void;
  private readerFull = false;

  constructor(
    private readonly table: TableDef,
    private readonly codec: AvroCodec,
    private readonly metadata: AvroBackupMetadata,
  ) {
    const { rowCount, createdAt, schemaVersion } = metadata;
    if (!Number.isSafeInteger(rowCount) || rowCount < 0) {
      throw new AppError('internal_error', `invalid row count for the backup of ${table.name}: ${rowCount}`);
    }
    const compress = compressors[codec];
    if (!compress) throw new Error(`unsupported codec: ${codec}`);
    // One write can be a whole page of rows: buffer one, not sixteen.
    super({ writableObjectMode: true, writableHighWaterMark: 1 });
    this.type = avroTypeFor(table);
    this.compress = compress;
    // Written at once, as avsc's writeHeader 'always': an empty table still gets a valid file.
    const meta: Record<string, Buffer> = {
      'avro.schema': Buffer.from(avroSchemaText(table)),
      'avro.codec': Buffer.from(codec),
      'dataport.table': Buffer.from(table.name),
      'dataport.row_count': Buffer.from(String(rowCount)),
      'dataport.created_at': Buffer.from(createdAt instanceof Date ? createdAt.toISOString() : createdAt),
      'dataport.schema_version': Buffer.from(schemaVersion),
    };
    this.push(HEADER.toBuffer({ magic: MAGIC, meta, sync: this.sync }));
  }

  override _write(chunk: Row | Row[], _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    try {
      if (Array.isArray(chunk)) for (const row of chunk) this.append(row);
      else this.append(chunk);
    } catch (err) {
      return cb(err as Error);
    }
    this.whenRoom(cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.written !== this.metadata.rowCount) return cb(this.countError('fewer'));
    if (this.blockRows > 0) this.flushBlock();
    const finish = () => {
      if (this.inFlight.length > 0) return void (this.waiting = finish);
      this.push(null);
      cb();
    };
    finish();
  }

  override _read(): void {
    this.readerFull = false;
    this.wake();
  }

  private append(row: Row): void {
    if (++this.written > this.metadata.rowCount) throw this.countError('more');
    let end = this.encode(row);
    if (end < 0) {
      if (this.pos > 0) this.flushBlock();
      // A record larger than a block gets a block of twice its size, from then on (as avsc does).
      if (-end > this.blockSize) this.blockSize = -end * 2;
      this.block = Buffer.allocUnsafe(this.blockSize);
      this.pos = 0;
      end = this.encode(row);
    }
    this.pos = end;
    this.blockRows++;
  }

  /** The record written at `pos`: where it ends, or minus its size when the block lacks room for it. */
  private encode(row: Row): number {
    let end: number;
    try {
      end = this.type.encode(row, this.block, this.pos);
    } catch (err) {
      const message = `row ${this.written} of ${this.table.name} does not fit its Avro schema: ${(err as Error).message}`;
      throw new AppError('internal_error', message, { cause: err });
    }
    // avsc answers a shortfall as (block length - where the record would end), a negative number.
    return end < 0 ? -(this.block.length - end - this.pos) : end;
  }

  private flushBlock(): void {
    const count = this.blockRows;
    const slot: { bytes?: Buffer } = {};
    this.inFlight.push(slot);
    this.compress(this.block.subarray(0, this.pos), (err, data) => {
      // A block deflated after the pipeline failed has nowhere to go.
      if (this.destroyed) return;
      if (err || !data) {
        return void this.destroy(new Error(`${this.codec} codec compression error`, { cause: err }));
      }
      slot.bytes = Buffer.concat([LONG.toBuffer(count), LONG.toBuffer(data.length), data, this.sync]);
      this.emitReady();
    });
    this.blockRows = 0;
    // The block is the codec's now (the null codec emits it as it is): the next one gets a new buffer.
    this.block = Buffer.allocUnsafe(this.blockSize);
    this.pos = 0;
  }

  /** Emits the blocks whose turn has come, in file order, however their codec calls finished. */
  private emitReady(): void {
    while (this.inFlight.length > 0 && this.inFlight[0].bytes) {
      if (!this.push(this.inFlight.shift()!.bytes)) this.readerFull = true;
    }
    this.wake();
  }

  /** Calls `cb` now, or once the blocks in flight and the reader's buffer have room again. */
  private whenRoom(cb: () => void): void {
    if (this.inFlight.length < BLOCKS_IN_FLIGHT && !this.readerFull) cb();
    else this.waiting = cb;
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) this.whenRoom(waiting);
  }

  private countError(which: 'more' | 'fewer'): AppError {
    const { table, metadata } = this;
    const message = `backup of ${table.name} got ${which} rows than the ${metadata.rowCount} announced in its header`;
    return new AppError('internal_error', message);
  }
}
