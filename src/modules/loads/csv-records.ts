import type { Readable } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { AppError } from '../../errors.js';

export interface CsvRecord {
  /** 1-based line of the file where the record starts. */
  line: number;
  /** The record's text as it stood in the file, without its line ending. */
  raw: string;
  fields: string[];
}

/** A record longer than this ends the load as `invalid_csv`: it cannot be a row of any table here. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

/**
 * Headerless, comma-separated RFC 4180 records from a stream: quoted fields with commas, quotes and
 * line breaks, LF or CRLF (mixed too), an optional UTF-8 BOM. Blank lines carry no data and are
 * skipped. A record with the wrong number of fields is passed on for the rules to refuse; what
 * csv-parse cannot read past (an unterminated quote, a record over 16 MiB) ends the stream with
 * AppError invalid_csv naming the line.
 */
export async function* csvRecords(input: Readable): AsyncGenerator<CsvRecord> {
  const parser = input.pipe(
    parse({
      bom: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      record_delimiter: ['\r\n', '\n'],
      max_record_size: MAX_RECORD_BYTES,
      raw: true,
      info: true,
    }),
  );
  input.on('error', (e) => parser.destroy(e));
  // Where the last good record ended: a record that cannot be read (an unterminated quote runs to the
  // end of the file) starts after it, which is the line a user needs, not the line parsing gave up on.
  let readTo = 0;
  try {
    for await (const { record, raw, info } of parser as AsyncIterable<{
      record: string[];
      raw: string;
      info: { lines: number };
    }>) {
      // PostgreSQL refuses NUL in text, so the reject log keeps it as U+2400 (the fields keep the NUL,
      // which the rules refuse as invalid_character).
      const text = raw
        .replace(/^[\r\n]+/, '')
        .replace(/[\r\n]+$/, '')
        .replace(/\0/g, '\u2400');
      // csv-parse counts the line a record ends on; a quoted field may span lines.
      let breaks = 0;
      for (const field of record)
        for (let i = field.indexOf('\n'); i !== -1; i = field.indexOf('\n', i + 1)) breaks++;
      readTo = info.lines;
      yield { line: info.lines - breaks, raw: text, fields: record };
    }
  } catch (e) {
    if (e instanceof CsvError) {
      const line = (e as CsvError & { lines?: number }).lines;
      throw new AppError(
        'invalid_csv',
        `the CSV file cannot be read past line ${line ?? '?'} (the record starting after line ${readTo}): ${e.message}`,
        { cause: e },
      );
    }
    throw e;
  } finally {
    // The consumer may stop early; never leave the source (a file handle, an HTTP body) open.
    input.destroy();
  }
}
