import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import avro from 'avsc';

/**
 * The object container file framing shared by the encoder and the decoder: magic, header layout,
 * codecs and limits. No schema knowledge here, so neither side imports the other.
 */

// snappyjs ships no type declarations; requiring it keeps the untyped import in one place.
export const snappy = createRequire(import.meta.url)('snappyjs') as {
  compress(data: Uint8Array): Uint8Array;
  uncompress(data: Uint8Array, maxLength?: number): Uint8Array;
};

export type AvroCodec = 'deflate' | 'null' | 'snappy';

export const MAGIC = Buffer.from('Obj\x01', 'latin1');
export const LONG = avro.Type.forSchema('long');
// Far above any block a sane writer produces, far below what a hostile header could make us allocate.
export const MAX_BLOCK_BYTES = 64 * 1024 * 1024;
export const MAX_HEADER_BYTES = 8 * 1024 * 1024;

/** The object container file header (avsc's own layout); the framing around it is ours. */
export const HEADER = avro.Type.forSchema({
  type: 'record',
  name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
  ],
});

// zlib's default output chunk, kept as the floor for small blocks.
const MIN_DEFLATE_CHUNK = 16 * 1024;
export type Compress = (block: Buffer, cb: (err: Error | null, out?: Buffer) => void) => void;

export const compressors: Record<AvroCodec, Compress> = {
  null: (buf, cb) => cb(null, buf),
  // Asynchronous: zlib deflates in libuv's thread pool, while the next block is being encoded. An output
  // buffer the size of the block lets one pass do it, where the default 16 KB took three trips.
  deflate: (buf, cb) =>
    zlib.deflateRaw(buf, { chunkSize: Math.max(buf.length + 1024, MIN_DEFLATE_CHUNK) }, cb),
  snappy: (buf, cb) => {
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

const inflateRaw = promisify(zlib.inflateRaw) as (buf: Buffer, opts: zlib.ZlibOptions) => Promise<Buffer>;

export const decompressors: Record<string, (data: Buffer) => Promise<Buffer>> = {
  null: async (data) => data,
  deflate: (data) => inflateRaw(data, { maxOutputLength: MAX_BLOCK_BYTES }),
  snappy: async (data) => {
    if (data.length < 4) throw new Error('snappy block shorter than its checksum');
    const raw = snappy.uncompress(data.subarray(0, -4), MAX_BLOCK_BYTES);
    const out = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    if (crc32(out) !== data.readUInt32BE(data.length - 4))
      throw new Error('snappy checksum (CRC32) mismatch');
    return out;
  },
};

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
