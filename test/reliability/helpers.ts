import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createEngine } from '../../src/db/index.js';
import type { Engine } from '../../src/db/engine.js';
import { fromDbRow } from '../../src/db/rows.js';
import { createAvroDecoder } from '../../src/modules/backups/avro.js';
import { defaultCatalogue } from '../../src/tables/catalogue.js';
import type { Row } from '../../src/tables/types.js';

export const catalogue = defaultCatalogue();

/** A seeded PRNG: the same seed gives the same kill points (the sample generator's mulberry32). */
export { mulberry32 as random } from '../../scripts/sample-data.js';

/** Order-independent fingerprint of a set of rows (sorted by id): count and a hash of their values. */
export function fingerprint(rows: Row[]): { rows: number; sha256: string } {
  const sorted = [...rows].sort((a, b) => (a.id as number) - (b.id as number));
  const hash = createHash('sha256');
  for (const r of sorted) hash.update(`${JSON.stringify(Object.values(r))}\n`);
  return { rows: sorted.length, sha256: hash.digest('hex') };
}

/** Opens its own engine on `url`, runs `fn`, closes (so that no connection of ours lingers). */
export async function withEngine<T>(url: string, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await createEngine(url);
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

export async function tableRows(engine: Engine, table: string): Promise<Row[]> {
  const def = catalogue.get(table);
  const rows = await engine.db.selectFrom(table).selectAll().orderBy('id').execute();
  return rows.map((r) => fromDbRow(def, engine.caps, r));
}

/** Decodes a whole Avro backup file with the service's own decoder; throws if it is not complete. */
export async function decodeBackup(file: string, table: string): Promise<Row[]> {
  const rows: Row[] = [];
  await pipeline(createReadStream(file), createAvroDecoder(catalogue.get(table)), async (source) => {
    for await (const row of source as AsyncIterable<Row>) rows.push(row);
  });
  return rows;
}

/** `id,job` CSV lines for ids from..to. */
export function jobsCsv(from: number, to: number, label: string): string {
  const lines: string[] = [];
  for (let id = from; id <= to; id++) lines.push(`${id},${label} job ${id}`);
  return `${lines.join('\n')}\n`;
}

export function jobsRows(from: number, to: number, label: string): Row[] {
  const rows: Row[] = [];
  for (let id = from; id <= to; id++) rows.push({ id, job: `${label} job ${id}` });
  return rows;
}
