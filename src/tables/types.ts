import { Type, type Static } from '@sinclair/typebox';

/**
 * The catalogue is plain data, so that a later version can read it from a JSON file that users write
 * for their own tables: `CatalogueSchema` is the format of that file.
 */
export const ColumnSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
    type: Type.Union([Type.Literal('integer'), Type.Literal('string'), Type.Literal('datetime')]),
    /** Characters (Unicode code points), for `string` columns. */
    maxLength: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    /** The table whose `id` this column must name. */
    references: Type.Optional(Type.String()),
    /** Used for rows written before this column existed (Avro schema evolution). */
    default: Type.Optional(Type.Union([Type.String(), Type.Integer()])),
  },
  { additionalProperties: false },
);

export const TableSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
    /** The first column is the primary key: an `integer` named `id`. */
    columns: Type.Array(ColumnSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export const CatalogueSchema = Type.Object(
  { tables: Type.Array(TableSchema, { minItems: 1 }) },
  { additionalProperties: false },
);

export type ColumnDef = Static<typeof ColumnSchema>;
export type TableDef = Static<typeof TableSchema>;
export type CatalogueFile = Static<typeof CatalogueSchema>;
export type ColumnType = ColumnDef['type'];

/** A validated row: integers as numbers, strings trimmed, datetimes as UTC ISO strings with milliseconds. */
export type Row = Record<string, number | string>;
