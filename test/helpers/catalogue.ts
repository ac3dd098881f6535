import path from 'node:path';
import { Readable } from 'node:stream';
import { fromDbRow } from '../../src/db/rows.js';
import { Catalogue } from '../../src/tables/catalogue.js';
import { parseCatalogue } from '../../src/tables/catalogue-file.js';
import type { Row, Value } from '../../src/tables/types.js';
import { auth, type TestApp } from './app.js';
import { readAvroWithPython } from './python-avro.js';

export { expectedFromPython } from './python-avro.js';

/** A catalogue written in a test as YAML text (the `tables:` list included). */
export function yamlCatalogue(text: string, file = 'test.yaml'): Catalogue {
  return new Catalogue(parseCatalogue(text, file), file);
}

/** Writes `text` at the table's `source` in the test bucket. */
export async function putSource(t: TestApp, table: string, text: string | Buffer): Promise<void> {
  const key = t.ctx.catalogue.get(table).source;
  await t.store.write(key, Readable.from([Buffer.from(text)]));
}

/** Every row of `table` as the catalogue's canonical Rows, ordered by the primary key (or all columns). */
export async function storedRows(t: TestApp, table: string): Promise<Row[]> {
  const def = t.ctx.catalogue.get(table);
  const raw = await t.ctx.engine.db.selectFrom(table).selectAll().execute();
  const rows = raw.map((r) => fromDbRow(def, t.ctx.engine.caps, r as Record<string, unknown>));
  const order = def.primary_key.length ? def.primary_key : def.columns.map((c) => c.name);
  return rows.sort((a, b) => {
    for (const c of order) {
      const d = compareValues(a[c], b[c]);
      if (d !== 0) return d;
    }
    return 0;
  });
}

/** Orders canonical values: numbers and whole-number texts numerically (exactly), other texts by code unit. */
export function compareValues(a: Value, b: Value): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string' && /^-?\d+$/.test(a) && /^-?\d+$/.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return String(a) < String(b) ? -1 : 1;
}

/** The HTTP calls the catalogue suites make, through `inject`. */
export function api(t: TestApp) {
  return {
    load: (table: string) =>
      t.app.inject({ method: 'POST', url: `/load_historic_data/${table}`, headers: auth }),
    /** A batch; a string is sent as the raw JSON text (big numbers stay JSON numbers). */
    batch: (table: string, payload: string | object, query = '') =>
      t.app.inject({
        method: 'POST',
        url: `/load_data_from_payload/${table}${query}`,
        headers: { ...auth, 'content-type': 'application/json' },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      }),
    backup: (table: string, query = '') =>
      t.app.inject({ method: 'POST', url: `/backup_table/${table}${query}`, headers: auth }),
    restore: (table: string, query = '') =>
      t.app.inject({ method: 'POST', url: `/restore_backup/${table}${query}`, headers: auth }),
    rejects: async (table: string, loadId?: string) =>
      (
        await t.app.inject({
          method: 'GET',
          url: `/rejects/${table}?limit=1000${loadId ? `&load_id=${loadId}` : ''}`,
        })
      ).json() as { total: number; rejects: Reject[] },
  };
}

export interface Reject {
  load_id: string;
  source: string;
  line?: number;
  index?: number;
  column: string | null;
  reason: string;
  message: string;
  raw: string;
}

/**
 * The records of a backup in the bucket as Apache Avro's Python reader (Debian's python3-avro) reads
 * them, each value tagged as `expectedFromPython` tags a catalogue value. No skip: a missing
 * python3-avro must fail the run.
 */
export function readWithPython(t: TestApp, key: string): Record<string, unknown>[] {
  const file = path.join(t.bucket, ...key.split('/'));
  return readAvroWithPython(file);
}
