// Moved to src/formats/avro/decoder.ts; kept so that older imports still compile.
export {
  AvroDecoder,
  createAvroDecoder,
  readAvroHeader,
  type AvroHeader,
} from '../../formats/avro/decoder.js';
export { HEADER } from '../../formats/avro/container.js';
