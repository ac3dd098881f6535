import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import avro from 'avsc';
import { AppError } from '../../errors.js';
import type { Row, TableDef } from '../../tables/types.js';

// snappyjs ships no type declarations; requiring it keeps the untyped import in one place.
export const snappy = createRequire(import.meta.url)('snappyjs') as {
  compress(data: Uint8Array): Uint8Array;
  uncompress(data: Uint8Array, maxLength?: number): Uint8Array;
};

export type AvroCodec = 'deflate' | 'null' | 'snappy';

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
// Far above any block a sane writer produces, far below what a hostile header could make us allocate.
export const MAX_BLOCK_BYTES = 64 * 1024 * 1024;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** Avro `timestamp-millis` <-> the catalogue's UTC ISO strings (avsc has no built-in logical types). */
class TimestampMillis extends avro.types.LogicalType {
  protected override _fromValue(ms: number): string {
    return new Date(ms).toISOString();
  }
  protected override _toValue(value: unknown): number {
    if (typeof value === 'string' && ISO_UTC.test(value)) return Date.parse(value);
    if (value instanceof Date) return value.getTime();
    throw new Error(`not a UTC ISO datetime: ${String(value)}`);
  }
  protected override _resolve(type: avro.Type): ((ms: number) => string) | undefined {
    if (avro.Type.isType(type, 'long', 'int')) return (ms) => this._fromValue(ms);
    return undefined;
  }
}

const LOGICAL_TYPES = { 'timestamp-millis': TimestampMillis };

/** The JSON form of a table's Avro schema. */
export interface AvroRecordSchema {
  type: 'record';
  name: string;
  fields: { name: string; type: string | { type: string; logicalType: string }; default?: number | string }[];
}

/** The Avro schema (JSON) of a table: a record named after it, defaults from the catalogue. */
export function avroSchemaFor(table: TableDef): AvroRecordSchema {
  return {
    type: 'record',
    name: table.name,
    fields: table.columns.map((c) => {
      const type =
        c.type === 'integer'
          ? 'int'
          : c.type === 'string'
            ? 'string'
            : { type: 'long', logicalType: 'timestamp-millis' };
      if (c.default === undefined) return { name: c.name, type };
      // Avro defaults are written in the underlying type's JSON form: epoch millis for a datetime.
      const value = c.type === 'datetime' ? Date.parse(String(c.default)) : c.default;
      return { name: c.name, type, default: value };
    }),
  };
}

/** The avsc type of a table's records, with our logical types. */
export function avroTypeFor(table: TableDef): avro.Type {
  return avro.Type.forSchema(avroSchemaFor(table) as avro.Schema, { logicalTypes: LOGICAL_TYPES });
}

// Passing `codecs` to avsc replaces its defaults, so null and deflate are listed again.
const encodeCodecs = {
  null: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => cb(null, buf),
  deflate: zlib.deflateRaw,
  snappy: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => {
    try {
      // The Avro spec puts a big-endian CRC32 of the uncompressed data after each snappy block.
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(buf));
      cb(null, Buffer.concat([snappy.compress(buf), crc]));
    } catch (err) {
      cb(err as Error);
    }
  },
};

/**
 * A stream that takes Row objects and emits the bytes of one Avro object container file.
 * It fails (and never emits the final block) unless exactly `metadata.rowCount` rows were written,
 * so a file whose header lies about its row count can never be published.
 * @throws AppError internal_error for a row count mismatch or a row that does not fit the schema.
 */
export function createAvroEncoder(
  table: TableDef,
  options: { codec?: AvroCodec; metadata: AvroBackupMetadata },
): Duplex {
  return new AvroEncoder(table, options.codec ?? 'deflate', options.metadata);
}

/** avsc's encoder plus the row count check; failing `_final` keeps it from flushing the last block. */
class AvroEncoder extends avro.streams.BlockEncoder {
  private written = 0;

  constructor(
    private readonly table: TableDef,
    codec: AvroCodec,
    private readonly metadata: AvroBackupMetadata,
  ) {
    const { rowCount, createdAt, schemaVersion } = metadata;
    if (!Number.isSafeInteger(rowCount) || rowCount < 0) {
      throw new AppError('internal_error', `invalid row count for the backup of ${table.name}: ${rowCount}`);
    }
    super(avroTypeFor(table), {
      codec,
      codecs: encodeCodecs,
      blockSize: BLOCK_SIZE,
      // 'auto' would write no header at all for an empty table, which is not a valid file.
      writeHeader: 'always',
      metadata: {
        'dataport.table': Buffer.from(table.name),
        'dataport.row_count': Buffer.from(String(rowCount)),
        'dataport.created_at': Buffer.from(createdAt instanceof Date ? createdAt.toISOString() : createdAt),
        'dataport.schema_version': Buffer.from(schemaVersion),
      },
    } as Partial<avro.EncoderOptions>);
    // avsc re-emits a row that does not fit the schema as a bare 'error'; give it our code instead.
    this.removeAllListeners('typeError');
    this.on('typeError', (err: Error) => {
      const message = `row ${this.written} of ${table.name} does not fit its Avro schema: ${err.message}`;
      this.destroy(new AppError('internal_error', message, { cause: err }));
    });
  }

  override _write(row: Row, encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (++this.written > this.metadata.rowCount) return cb(this.countError('more'));
    super._write(row, encoding, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    cb(this.written === this.metadata.rowCount ? null : this.countError('fewer'));
  }

  private countError(which: 'more' | 'fewer'): AppError {
    const { table, metadata } = this;
    const message = `backup of ${table.name} got ${which} rows than the ${metadata.rowCount} announced in its header`;
    return new AppError('internal_error', message);
  }
}

const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

// zlib.crc32 only exists from Node 20.15; engines allows 20.9.
export function crc32(buf: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

// The decoder lives in its own file; re-exported so that callers keep one import for the codec layer.
// The cycle is safe: avro-decoder.ts only uses this module's bindings inside functions, never at load.
export { createAvroDecoder, readAvroHeader, AvroDecoder, type AvroHeader } from './avro-decoder.js';
