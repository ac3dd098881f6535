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
  // Lines are counted here rather than with csv-parse's `info`, which doubles its cost per record
  // (2.6 s more per million rows), and which counts CRLF inside a quoted field as two lines.
  const parser = input.pipe(
    parse({
      bom: true,
      relax_column_count: true,
      relax_quotes: true,
      record_delimiter: ['\r\n', '\n'],
      max_record_size: MAX_RECORD_BYTES,
      raw: true,
    }),
  );
  input.on('error', (e) => parser.destroy(e));
  // The line the next record starts on; a record that cannot be read (an unterminated quote runs to
  // the end of the file) starts there, which is the line a user needs, not where parsing gave up.
  let line = 1;
  try {
    for await (const { record, raw } of parser as AsyncIterable<{ record: string[]; raw: string }>) {
      const start = line;
      line++;
      for (const field of record)
        for (let i = field.indexOf('\n'); i !== -1; i = field.indexOf('\n', i + 1)) line++;
      if (record.length === 1 && record[0] === '') continue; // a blank line
      // PostgreSQL refuses NUL in text, so the reject log keeps it as U+2400 (the fields keep the NUL,
      // which the rules refuse as invalid_character).
      const text = raw
        .replace(/^[\r\n]+/, '')
        .replace(/[\r\n]+$/, '')
        .replace(/\0/g, '\u2400');
      yield { line: start, raw: text, fields: record };
    }
  } catch (e) {
    if (e instanceof CsvError) {
      const { lines, raw } = e as CsvError & { lines?: number; raw?: string };
      // The error carries the unreadable record's text up to where parsing gave up: count back from there.
      const breaks = raw?.split('\n').length ?? 1;
      if (lines !== undefined && raw !== undefined) line = lines - breaks + 1 + (raw.endsWith('\n') ? 1 : 0);
      throw new AppError(
        'invalid_csv',
        `the CSV file cannot be read past line ${lines ?? '?'} (the record starting on line ${line}): ${e.message}`,
        { cause: e },
      );
    }
    throw e;
  } finally {
    // The consumer may stop early; never leave the source (a file handle, an HTTP body) open.
    input.destroy();
  }
}
