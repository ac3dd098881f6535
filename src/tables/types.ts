/**
 * The catalogue as the service uses it, after catalogue-file.ts has read and checked a user's file.
 * Every name is checked (`^[a-z][a-z0-9_]{0,62}$`), every default filled in, every reference resolved.
 */

/** The column types of the catalogue; each one's rules live in column-types.ts and nowhere else. */
export const typeNames = [
  'integer',
  'bigint',
  'decimal',
  'double',
  'boolean',
  'string',
  'text',
  'date',
  'datetime',
] as const;
export type TypeName = (typeof typeNames)[number];

/**
 * A validated value, exact and JSON-safe:
 * - integer, double: number; boolean: boolean
 * - bigint: canonical decimal text ('-9223372036854775808'), never a JS number
 * - decimal: canonical text with exactly `scale` fraction digits ('3.00', '-0.50'), never a float
 * - string, text: the text (trimmed)
 * - date: 'YYYY-MM-DD'; datetime: 'YYYY-MM-DDTHH:MM:SS.mmmZ' (UTC)
 * - null: NULL, only in a nullable column
 */
export type Value = string | number | boolean | null;

/** A validated row: every column of the table, by name. */
export type Row = Record<string, Value>;

export interface ColumnDef {
  name: string;
  type: TypeName;
  nullable: boolean;
  /** string: the most characters (Unicode code points). */
  max_length?: number;
  /** decimal: digits in all, and after the point. */
  precision?: number;
  scale?: number;
  /** Bounds, as canonical values of the column's type (integer, bigint, decimal, double, date, datetime). */
  min?: Value;
  max?: Value;
  /** A regular expression the whole (trimmed) value must match; string and text. */
  pattern?: string;
  /** The allowed values, canonical. */
  enum?: Value[];
  /** Canonical; used by JSON rows that leave the column out and by restores of older backups. */
  default?: Value;
  /** datetime: zone-less text is read as UTC rather than refused. */
  zone?: 'utc';
  /** The header text of a CSV with a header line (the name when not given). */
  csv_name: string;
}

export interface ForeignKey {
  columns: string[];
  references: { table: string; columns: string[] };
}

export interface CsvOptions {
  /** The first line names the columns (matched by csv_name, in any order). */
  header: boolean;
  delimiter: string;
  quote: string;
  /** Field texts that mean NULL in a nullable column. */
  null_values: string[];
}

export interface TableDef {
  name: string;
  columns: ColumnDef[];
  /** The primary key's columns, in key order; empty for a table without a key. */
  primary_key: string[];
  /** Extra unique keys. */
  unique: string[][];
  /** Every foreign key: single-column `references` and the table's `foreign_keys`, in one shape. */
  foreign_keys: ForeignKey[];
  /** The bucket key of the historic CSV. */
  source: string;
  csv: CsvOptions;
}
