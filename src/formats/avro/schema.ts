import avro from 'avsc';
import { canonicalIsoMillis } from '../../tables/datetime.js';
import { typeOf } from '../../tables/column-types.js';
import type { ColumnDef, TableDef, Value } from '../../tables/types.js';
import { LOGICAL_TYPES, daysOfDate, longHook, twosComplement } from './logical-types.js';

/** The Avro type (JSON form) of a column's non-null values, from the type registry. */
export type AvroTypeJson =
  string | { type: string; logicalType?: string; precision?: number; scale?: number };

/** One field of a table's record. A bigint default is a JS bigint: see avroSchemaText. */
export interface AvroField {
  name: string;
  type: AvroTypeJson | ['null', AvroTypeJson];
  default?: number | string | boolean | bigint | null;
}

/** The JSON form of a table's Avro schema. */
export interface AvroRecordSchema {
  type: 'record';
  name: string;
  fields: AvroField[];
}

/**
 * The Avro schema of a table: a record named after it, one field per column with the registry's Avro
 * type. A nullable column is `["null", T]` with default null (Avro wants a union's default to be of its
 * first branch, so a nullable column's catalogue default is not written; the decoder fills it from the
 * catalogue). A NOT NULL column's catalogue default is the Avro default in T's JSON form: epoch millis,
 * days, the decimal's bytes as a string of code points, and a bigint as a JS bigint that
 * avroSchemaText writes with all its digits (a JSON number that a JS reader would round).
 */
export function avroSchemaFor(table: TableDef): AvroRecordSchema {
  return { type: 'record', name: table.name, fields: table.columns.map(avroField) };
}

export function avroField(column: ColumnDef): AvroField {
  const type = typeOf(column).avro(column) as AvroTypeJson;
  if (column.nullable) return { name: column.name, type: ['null', type], default: null };
  if (column.default === undefined || column.default === null) return { name: column.name, type };
  return { name: column.name, type, default: avroDefault(type, column.default) };
}

/** A canonical Value in the JSON form Avro gives defaults of `type`. */
function avroDefault(type: AvroTypeJson, value: Value): AvroField['default'] {
  const base = typeof type === 'string' ? type : type.type;
  const logical = typeof type === 'string' ? undefined : type.logicalType;
  if (logical === 'timestamp-millis') return canonicalIsoMillis(String(value)) ?? Date.parse(String(value));
  if (logical === 'date') {
    const [y, m, d] = String(value).split('-').map(Number);
    return daysOfDate(y, m, d);
  }
  if (logical === 'decimal') {
    const text = String(value);
    const [whole, fraction = ''] = text.split('.');
    const scale = (type as { scale?: number }).scale ?? 0;
    return twosComplement(BigInt(whole + fraction.padEnd(scale, '0'))).toString('latin1');
  }
  if (base === 'long' && logical === undefined) return BigInt(value as string);
  return value as number | string | boolean;
}

/**
 * The schema's JSON text, as written in a file's header: keys in avsc's order (name, type, fields), and
 * a bigint default as its exact digits, which JSON allows and Avro's Java and Python readers read exactly.
 */
export function avroSchemaText(table: TableDef): string {
  const schema = avroSchemaFor(table);
  const fields = schema.fields.map(({ name, type, default: value }) => {
    const head = `{"name":${JSON.stringify(name)},"type":${JSON.stringify(type)}`;
    if (value === undefined) return `${head}}`;
    return `${head},"default":${typeof value === 'bigint' ? value.toString() : JSON.stringify(value)}}`;
  });
  return `{"name":${JSON.stringify(schema.name)},"type":"record","fields":[${fields.join(',')}]}`;
}

/**
 * avsc options for the schemas we read into: our logical types, and plain longs with all 64 bits. A new
 * object each time: avsc keeps the names it has seen in `opts.registry`.
 */
export function typeOptions(): Partial<avro.ForSchemaOptions> {
  return { logicalTypes: LOGICAL_TYPES, typeHook: longHook } as unknown as Partial<avro.ForSchemaOptions>;
}

/** The avsc type of a table's records (what the encoder writes). */
export function avroTypeFor(table: TableDef): avro.Type {
  return avro.Type.forSchema(avroSchemaFor(table) as unknown as avro.Schema, typeOptions());
}

/** The catalogue's name for a column's type, as messages show it: 'decimal(12,2)', 'string', … */
export function catalogueTypeName(column: ColumnDef): string {
  const avroType = typeOf(column).avro(column) as AvroTypeJson;
  const { precision, scale } = typeof avroType === 'string' ? {} : avroType;
  return precision === undefined ? column.type : `${column.type}(${precision},${scale ?? 0})`;
}
