// The Avro format lives in src/formats/avro; this module keeps the backups' one import for it.
export * from '../../formats/avro/index.js';
