import type { Readable } from 'node:stream';
import type { TableDef } from '../../tables/types.js';
import { checkFields, headerChecker, type Checked } from '../../tables/validate.js';
import { csvRecords } from './csv-records.js';

export interface CsvRow {
  line: number;
  raw: string;
  checked: Checked;
}

/**
 * The records of a CSV source checked against `table`, with the table's csv options. With
 * `csv.header`, the first record names the columns (matched by csv_name, in any order) and is no row.
 * @throws AppError invalid_csv (unreadable file, or a header that does not match the table)
 */
export async function* csvRows(table: TableDef, input: Readable): AsyncGenerator<CsvRow> {
  const { delimiter, quote, header } = table.csv;
  let check: ((fields: string[]) => Checked) | null = header ? null : (fields) => checkFields(table, fields);
  for await (const record of csvRecords(input, { delimiter, quote })) {
    if (!check) {
      check = headerChecker(table, record.fields);
      continue;
    }
    yield { line: record.line, raw: record.raw, checked: check(record.fields) };
  }
}
