import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type avro from 'avsc';
import { AppError } from '../../errors.js';
import type { Row, TableDef } from '../../tables/types.js';
import { decompressors, HEADER, LONG, MAGIC, MAX_BLOCK_BYTES, MAX_HEADER_BYTES } from './container.js';
import { resolveSchema, writerTypeOf } from './resolve.js';

/** Header entries of a backup file as strings, e.g. `dataport.table`, `dataport.row_count`, `avro.codec`. */
export type AvroHeader = Record<string, string>;

/** What the header of the file being read says, and how its records become Rows. */
interface FileState {
  sync: Buffer;
  codec: string;
  readerType: avro.Type;
  resolver: avro.Resolver;
  /** A decoded record to a Row with every column in catalogue order, when the file lacks some. */
  complete?: (record: Row) => Row;
  expected?: number;
}

/**
 * A stream that takes the bytes of an Avro object container file and emits Rows of `table`, resolving
 * the file's (writer) schema against `avroSchemaFor(table)`: columns added later get their default,
 * columns dropped later are ignored. Emits `'metadata'` (an AvroHeader) before the first row.
 * @throws AppError invalid_backup (as a stream error) for any file that is not a complete, intact
 *   backup of this table.
 */
export function createAvroDecoder(table: TableDef): AvroDecoder {
  return new AvroDecoder(table);
}

/**
 * avsc's BlockDecoder is not used: it ends cleanly on a truncated file (0 rows, no error) and keeps
 * buffering the rest of the file when a block declares an absurd size. So the framing is parsed here,
 * and avsc only decodes records.
 */
export class AvroDecoder extends Transform {
  /** Set once the header is read (also emitted as `'metadata'`). */
  header?: AvroHeader;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private file?: FileState;
  private blocks = 0;
  private rows = 0;
  /** Set while a block's rows wait for the reader to take the ones already pushed. */
  private wake?: () => void;

  constructor(private readonly table: TableDef) {
    // A bounded queue of rows: one block may hold millions of tiny records (a few KB of deflate
    // can declare 30 million), and they are handed on as the reader takes them, never all at once.
    super({ readableObjectMode: true, readableHighWaterMark: 1024 });
  }

  override _read(size: number): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
    super._read(size);
  }

  /**
   * A reader that stops early (a `for await` that throws on a bad record) destroys the decoder with an
   * AbortError, and pipeline() would then reject with that ABORT_ERR (a 500) instead of the reader's
   * own error (invalid_backup). Stopping early is the reader's decision, not a fault of the file, so
   * the decoder is destroyed without an error of its own.
   */
  override destroy(err?: Error): this {
    this.wake = undefined;
    return super.destroy((err as { code?: unknown } | undefined)?.code === 'ABORT_ERR' ? undefined : err);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, cb: TransformCallback): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.drain().then(
      () => cb(),
      (err: unknown) => cb(asInvalid(err)),
    );
  }

  override _flush(cb: TransformCallback): void {
    this.drain()
      .then(() => {
        if (!this.file)
          throw new Error(this.buffered < MAGIC.length ? 'not an Avro file: too short' : 'truncated header');
        if (this.buffered > 0)
          throw new Error(`truncated after block ${this.blocks} (${this.buffered} bytes left over)`);
        const { expected } = this.file;
        if (expected !== undefined && expected !== this.rows) {
          throw new Error(`header says ${expected} rows but the file holds ${this.rows}`);
        }
      })
      .then(
        () => cb(),
        (err: unknown) => cb(asInvalid(err)),
      );
  }

  private async drain(): Promise<void> {
    for (;;) {
      const progressed = this.file ? await this.readBlock() : this.readHeader();
      if (!progressed) return;
    }
  }

  private readHeader(): boolean {
    const bytes = this.peek(this.buffered);
    if (bytes.length >= MAGIC.length && !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw new Error('not an Avro file (wrong magic bytes)');
    }
    const { value, offset } = HEADER.decode(bytes, 0);
    if (offset < 0) {
      if (this.buffered > MAX_HEADER_BYTES) throw new Error(`header larger than ${MAX_HEADER_BYTES} bytes`);
      return false;
    }
    this.consume(offset);
    const meta = value.meta as Record<string, Buffer>;
    const header: AvroHeader = Object.fromEntries(
      Object.entries(meta).map(([k, v]) => [k, v.toString('utf8')]),
    );
    this.file = { sync: value.sync as Buffer, ...this.checkHeader(header) };
    this.header = header;
    this.emit('metadata', header);
    return true;
  }

  private checkHeader(header: AvroHeader): Omit<FileState, 'sync'> {
    const name = this.table.name;
    const codec = header['avro.codec'] ?? 'null';
    if (!decompressors[codec]) throw new Error(`unsupported codec '${codec}'`);
    const tableInHeader = header['dataport.table'];
    if (tableInHeader !== undefined && tableInHeader !== name) {
      throw new Error(`backup of table '${tableInHeader}', not '${name}'`);
    }
    const count = header['dataport.row_count'];
    if (count !== undefined && !/^\d{1,15}$/.test(count))
      throw new Error(`bad dataport.row_count '${count}'`);
    let schema: unknown;
    let writerType: avro.Type;
    try {
      schema = JSON.parse(header['avro.schema'] ?? 'null');
      writerType = writerTypeOf(schema);
    } catch (err) {
      throw new Error(`unreadable schema in header: ${(err as Error).message}`, { cause: err });
    }
    const writerName =
      writerType.typeName === 'record' ? (writerType.name ?? '').split('.').pop() : undefined;
    if (writerName !== name)
      throw new Error(`schema is for '${writerName ?? writerType.typeName}', not table '${name}'`);
    return {
      codec,
      ...resolveSchema(this.table, schema, writerType),
      expected: count === undefined ? undefined : Number(count),
    };
  }

  private async readBlock(): Promise<boolean> {
    const n = this.blocks + 1;
    const head = this.peek(20); // two longs take at most 10 bytes each
    const count = LONG.decode(head, 0);
    const size = count.offset < 0 ? count : LONG.decode(head, count.offset);
    if (size.offset < 0) {
      if (head.length >= 20) throw new Error(`block ${n}: corrupt block header`);
      return false;
    }
    if (count.value < 0 || size.value < 0) throw new Error(`block ${n}: negative count or size`);
    if (size.value > MAX_BLOCK_BYTES) {
      throw new Error(`block ${n} declares ${size.value} bytes, over the ${MAX_BLOCK_BYTES} byte limit`);
    }
    const total = size.offset + size.value + 16;
    if (this.buffered < total) return false;
    const block = this.consume(total);
    if (!block.subarray(total - 16).equals(this.file!.sync))
      throw new Error(`block ${n}: sync marker mismatch`);
    let raw: Buffer;
    try {
      raw = await decompressors[this.file!.codec](block.subarray(size.offset, total - 16));
    } catch (err) {
      throw new Error(`block ${n}: ${this.file!.codec} data is corrupt: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.blocks = n;
    const file = this.file!;
    // Every record holds at least its id (one byte or more), so a count above the byte size is a lie.
    if (count.value > raw.length)
      throw new Error(`block ${n} declares ${count.value} records in ${raw.length} bytes`);
    let pos = 0;
    for (let i = 0; i < count.value; i++) {
      const { value, offset } = file.readerType.decode(raw, pos, file.resolver);
      if (offset < 0) throw new Error(`block ${n}: record ${i + 1} of ${count.value} is truncated`);
      pos = offset;
      this.rows++;
      if (file.expected !== undefined && this.rows > file.expected) {
        throw new Error(`file holds more rows than the ${file.expected} its header says`);
      }
      const row: Row = file.complete ? file.complete(value as Row) : { ...(value as Row) };
      if (!this.push(row)) await new Promise<void>((r) => (this.wake = r));
    }
    if (pos !== raw.length) throw new Error(`block ${n}: ${raw.length - pos} bytes after its last record`);
    return true;
  }

  /** Up to `n` buffered bytes, without consuming them. */
  private peek(n: number): Buffer {
    if (this.chunks.length > 1 && this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    return (this.chunks[0] ?? Buffer.alloc(0)).subarray(0, n);
  }

  /** Exactly `n` bytes (the caller checked `buffered`), concatenated once. */
  private consume(n: number): Buffer {
    const out = this.peek(n);
    this.chunks[0] = this.chunks[0].subarray(n);
    this.buffered -= n;
    if (this.chunks[0].length === 0) this.chunks.shift();
    return out;
  }
}

/**
 * Reads only the header of an Avro file (magic, metadata, sync marker: the schema and our
 * `dataport.*` entries, a few hundred bytes) and stops reading there, destroying `input`.
 * @throws AppError invalid_backup when the bytes do not start with a complete Avro header.
 */
export async function readAvroHeader(input: Readable): Promise<AvroHeader> {
  let bytes = Buffer.alloc(0);
  try {
    for await (const chunk of input) {
      bytes = Buffer.concat([bytes, chunk as Buffer]);
      if (bytes.length >= MAGIC.length && !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
        throw new Error('not an Avro file (wrong magic bytes)');
      }
      const { value, offset } = HEADER.decode(bytes, 0);
      if (offset >= 0) {
        const meta = value.meta as Record<string, Buffer>;
        return Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, v.toString('utf8')]));
      }
      if (bytes.length > MAX_HEADER_BYTES) throw new Error(`header larger than ${MAX_HEADER_BYTES} bytes`);
    }
    throw new Error(bytes.length < MAGIC.length ? 'not an Avro file: too short' : 'truncated header');
  } catch (err) {
    throw asInvalid(err);
  } finally {
    input.destroy();
  }
}

function asInvalid(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AppError('invalid_backup', `invalid backup: ${message}`, { cause: err });
}
