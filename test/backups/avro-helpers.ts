import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  createAvroDecoder,
  createAvroEncoder,
  type AvroCodec,
  type AvroHeader,
} from '../../src/modules/backups/avro.js';
import type { ColumnDef, Row, TableDef } from '../../src/tables/types.js';

/** A column as the catalogue loader gives it: NOT NULL, csv_name = name, unless told otherwise. */
export function col(name: string, type: ColumnDef['type'], more: Partial<ColumnDef> = {}): ColumnDef {
  return { name, type, nullable: false, csv_name: name, ...more };
}

/** A table as the catalogue loader gives it, keyed on its first column. */
export function table(name: string, columns: ColumnDef[], more: Partial<TableDef> = {}): TableDef {
  return {
    name,
    columns,
    primary_key: [columns[0].name],
    unique: [],
    foreign_keys: [],
    source: `database/${name}/historic/${name}.csv`,
    csv: { header: false, delimiter: ',', quote: '"', null_values: [''] },
    ...more,
  };
}

export const meta = (rowCount: number) => ({
  rowCount,
  createdAt: '2024-05-01T10:00:00.123Z',
  schemaVersion: '0007_backups',
});

export async function encode(
  t: TableDef,
  rows: Iterable<Row>,
  rowCount: number,
  codec: AvroCodec = 'deflate',
) {
  const chunks: Buffer[] = [];
  await pipeline(
    Readable.from(rows),
    createAvroEncoder(t, { codec, metadata: meta(rowCount) }),
    async (source) => {
      for await (const chunk of source) chunks.push(chunk as Buffer);
    },
  );
  return Buffer.concat(chunks);
}

/** Feeds the file in small chunks so that headers and blocks straddle chunk boundaries. */
export async function decode(t: TableDef, file: Buffer, chunkSize = 997) {
  const pieces = Array.from({ length: Math.ceil(file.length / chunkSize) }, (_, i) =>
    file.subarray(i * chunkSize, (i + 1) * chunkSize),
  );
  const decoder = createAvroDecoder(t);
  let header: AvroHeader | undefined;
  decoder.on('metadata', (h: AvroHeader) => (header = h));
  const rows: Row[] = [];
  await pipeline(Readable.from(pieces), decoder, async (source) => {
    for await (const row of source) rows.push(row as Row);
  });
  return { rows, header };
}

export async function decodeError(t: TableDef, file: Buffer): Promise<AppError> {
  const err = await decode(t, file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe('invalid_backup');
  return err as AppError;
}
