import avro from 'avsc';
import { typeOf } from '../../tables/column-types.js';
import type { ColumnDef, Row, TableDef, Value } from '../../tables/types.js';
import { longHook } from './logical-types.js';
import { avroField, catalogueTypeName, typeOptions, type AvroTypeJson } from './schema.js';

/**
 * Schema resolution of a file's (writer) schema against the catalogue's table (reader), by Avro's
 * rules narrowed to what a restore can keep exactly:
 * - a column the file lacks is filled with its catalogue default, or null when it is nullable;
 * - a field the catalogue lacks is skipped;
 * - int -> long (canonical bigint text), int/long/float -> double (long read exactly, then rounded
 *   once: avsc's own long -> double read gets -2^63 wrong), T -> ["null", T];
 * - a logical type must match the column's (decimal: the same precision and scale).
 * Anything else is an Error naming the column, which the decoder turns into invalid_backup.
 */
export interface Resolution {
  /** The catalogue's columns that the file has, as a record avsc reads with `resolver`. */
  readerType: avro.Type;
  resolver: avro.Resolver;
  /**
   * A decoded record to a Row of the table, in catalogue order, when the file lacks columns or holds
   * longs read as doubles; undefined when a copy of the record is the Row.
   */
  complete?: (record: Row) => Row;
}

/** What a file's field type says, once unions with null are unwrapped. */
interface FileType {
  nullable: boolean;
  base?: string;
  logical?: string;
  precision?: unknown;
  scale?: unknown;
  /** How a message shows it. */
  text: string;
}

const PROMOTIONS: Record<string, string[]> = {
  int: ['int'],
  long: ['int', 'long'],
  float: ['int', 'long', 'float'],
  double: ['int', 'long', 'float', 'double'],
  string: ['string'],
  bytes: ['bytes'],
  boolean: ['boolean'],
};
// Logical types of the Avro spec: a file's must match the column's. Others are ignored, as the spec says
// readers do (uuid annotates a string, which a string column reads as it is).
const SPEC_LOGICAL = new Set([
  'decimal',
  'date',
  'time-millis',
  'time-micros',
  'timestamp-millis',
  'timestamp-micros',
  'local-timestamp-millis',
  'local-timestamp-micros',
  'duration',
]);

/** @param writerSchema the file's `avro.schema`, parsed JSON, already checked to be a record of this table. */
export function resolveSchema(table: TableDef, writerSchema: unknown, writerType: avro.Type): Resolution {
  const rawFields = (writerSchema as { fields?: unknown }).fields;
  const fields = new Map<string, unknown>(
    (Array.isArray(rawFields) ? rawFields : []).map((f: { name?: unknown; type?: unknown }) => [
      String(f.name),
      f.type,
    ]),
  );
  const present: { name: string; type: unknown }[] = [];
  const fills = new Map<string, Value>();
  const toDouble = new Set<string>();
  for (const column of table.columns) {
    if (!fields.has(column.name)) {
      if (column.default !== undefined) fills.set(column.name, column.default);
      else if (column.nullable) fills.set(column.name, null);
      else
        throw new Error(
          `column ${column.name} is not in the file, and the catalogue gives it no default and does not allow null`,
        );
      continue;
    }
    const file = fileType(fields.get(column.name));
    check(column, file);
    const type = avroField(column).type;
    const longAsDouble = file.base === 'long' && (Array.isArray(type) ? type[1] : type) === 'double';
    if (longAsDouble) toDouble.add(column.name);
    present.push({
      name: column.name,
      type: longAsDouble ? (Array.isArray(type) ? ['null', 'long'] : 'long') : type,
    });
  }
  const readerType = avro.Type.forSchema(
    { type: 'record', name: table.name, fields: present } as unknown as avro.Schema,
    typeOptions(),
  );
  let resolver: avro.Resolver;
  try {
    resolver = readerType.createResolver(writerType, { ignoreNamespaces: true } as never);
  } catch (err) {
    throw new Error(`schema does not fit table '${table.name}': ${(err as Error).message}`, { cause: err });
  }
  const complete = fills.size === 0 && toDouble.size === 0 ? undefined : completer(table, fills, toDouble);
  return { readerType, resolver, complete };
}

function completer(table: TableDef, fills: Map<string, Value>, toDouble: Set<string>): (record: Row) => Row {
  const columns = table.columns.map((c) => ({
    name: c.name,
    filled: fills.has(c.name),
    fill: fills.get(c.name) ?? null,
    double: toDouble.has(c.name),
  }));
  return (record) => {
    const row: Row = {};
    for (const { name, filled, fill, double } of columns) {
      const v = filled ? fill : record[name];
      row[name] = double && v !== null ? Number(v) : v;
    }
    return row;
  };
}

/**
 * The file's schema as avsc reads it: plain longs with all 64 bits, logical types as their underlying
 * type. Its fields' defaults are left out: a reader never uses the writer's (Avro takes defaults from
 * the reader's schema), and JSON.parse has rounded a long default past 2^53 to one avsc refuses.
 */
export function writerTypeOf(schema: unknown): avro.Type {
  const fields = (schema as { fields?: unknown } | null)?.fields;
  const bare = Array.isArray(fields)
    ? {
        ...(schema as object),
        fields: fields.map((f: unknown) => {
          if (f === null || typeof f !== 'object') return f;
          const { default: _default, ...rest } = f as Record<string, unknown>;
          return rest;
        }),
      }
    : schema;
  return avro.Type.forSchema(
    bare as avro.Schema,
    { typeHook: longHook } as unknown as Partial<avro.ForSchemaOptions>,
  );
}

function check(column: ColumnDef, file: FileType): void {
  const reader = typeOf(column).avro(column) as AvroTypeJson;
  const base = typeof reader === 'string' ? reader : reader.type;
  const logical = typeof reader === 'string' ? undefined : reader.logicalType;
  const fileLogical = file.logical !== undefined && SPEC_LOGICAL.has(file.logical) ? file.logical : undefined;
  const fits =
    file.base !== undefined &&
    (logical === undefined
      ? fileLogical === undefined && (PROMOTIONS[base] ?? [base]).includes(file.base)
      : file.base === base &&
        fileLogical === logical &&
        (logical !== 'decimal' ||
          (file.precision === (reader as { precision?: number }).precision &&
            (file.scale ?? 0) === ((reader as { scale?: number }).scale ?? 0))));
  if (!fits)
    throw new Error(
      `column ${column.name} is ${file.text} in the file but ${catalogueTypeName(column)} in the catalogue`,
    );
  if (file.nullable && !column.nullable)
    throw new Error(`column ${column.name} may be null in the file but is NOT NULL in the catalogue`);
}

function fileType(raw: unknown): FileType {
  if (Array.isArray(raw)) {
    const others = raw.filter((t) => t !== 'null' && (t as { type?: unknown })?.type !== 'null');
    if (others.length === 1 && raw.length === 2) return { ...fileType(others[0]), nullable: true };
    if (others.length === 1 && raw.length === 1) return fileType(others[0]);
    return { nullable: raw.length > others.length, text: `the union ${JSON.stringify(raw)}` };
  }
  if (typeof raw === 'string') return { nullable: false, base: PROMOTIONS[raw] ? raw : undefined, text: raw };
  if (raw !== null && typeof raw === 'object') {
    const { type, logicalType, precision, scale } = raw as Record<string, unknown>;
    if (typeof type === 'string' && PROMOTIONS[type]) {
      const logical = typeof logicalType === 'string' ? logicalType : undefined;
      const text =
        logical === 'decimal'
          ? `decimal(${String(precision)},${String(scale ?? 0)})`
          : logical && SPEC_LOGICAL.has(logical)
            ? logical
            : type;
      return { nullable: false, base: type, logical, precision, scale, text };
    }
    return { nullable: false, text: typeof type === 'string' ? type : JSON.stringify(raw) };
  }
  return { nullable: false, text: JSON.stringify(raw) };
}
