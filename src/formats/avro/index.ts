/**
 * Avro object container files of catalogue tables: the schema of a table, an encoder of canonical Rows
 * and a decoder back to them that resolves older files' schemas against the catalogue.
 * container.ts <- schema.ts <- encoder.ts / resolve.ts <- decoder.ts: no cycles.
 */
export { HEADER, MAX_BLOCK_BYTES, crc32, snappy, type AvroCodec } from './container.js';
export {
  avroSchemaFor,
  avroSchemaText,
  avroTypeFor,
  type AvroField,
  type AvroRecordSchema,
  type AvroTypeJson,
} from './schema.js';
export { createAvroEncoder, type AvroBackupMetadata } from './encoder.js';
export { AvroDecoder, createAvroDecoder, readAvroHeader, type AvroHeader } from './decoder.js';
