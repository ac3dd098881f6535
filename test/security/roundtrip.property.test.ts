import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, createTestApp, putHistoric, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';
import { tableRows } from '../reliability/helpers.js';

/**
 * CSV -> database -> Avro -> database keeps arbitrary Unicode names exactly (after the trim the rules
 * apply): written with csv-stringify, loaded as a historic file, backed up, the table emptied, restored.
 */
const codePoint = fc.oneof(
  fc.integer({ min: 0x01, max: 0x7f }), // ASCII, control characters, comma, quote, CR, LF included
  fc.integer({ min: 0x80, max: 0xd7ff }),
  fc.integer({ min: 0xe000, max: 0xfffc }), // U+FFFD itself means "not UTF-8" to the rules
  fc.integer({ min: 0x10000, max: 0x10ffff }),
);
const name = fc
  .array(codePoint, { minLength: 1, maxLength: 100 })
  .map((points) => String.fromCodePoint(...points))
  .filter((s) => s.trim().length > 0);
const rows = fc.uniqueArray(fc.record({ id: fc.integer({ min: 1, max: 2147483647 }), job: name }), {
  minLength: 1,
  maxLength: 20,
  selector: (r) => r.id,
});

describe.each(testEngines())('CSV -> SQL -> Avro -> SQL round trip on $name', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(engine);
  });
  afterAll(async () => t?.close());
  const post = (url: string) => t.app.inject({ method: 'POST', url, headers: auth });

  it('keeps every name exactly', { timeout: 180_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(rows, fc.constantFrom('deflate', 'snappy', 'null'), async (generated, codec) => {
        await t.ctx.engine.db.deleteFrom('jobs').execute();
        await putHistoric(t, 'jobs', stringify(generated.map((r) => [r.id, r.job])));
        const load = await post('/load_historic_data/jobs');
        expect(load.json()).toMatchObject({
          rows_read: generated.length,
          loaded: generated.length,
          rejected: 0,
        });
        const expected = generated.map((r) => ({ id: r.id, job: r.job.trim() })).sort((a, b) => a.id - b.id);
        expect(await tableRows(t.ctx.engine, 'jobs')).toEqual(expected);
        expect((await post(`/backup_table/jobs?codec=${codec}`)).statusCode).toBe(200);
        await t.ctx.engine.db.deleteFrom('jobs').execute();
        const restore = await post('/restore_backup/jobs');
        expect(restore.json()).toMatchObject({ rows_restored: generated.length });
        expect(await tableRows(t.ctx.engine, 'jobs')).toEqual(expected);
      }),
      { numRuns: 25, seed: 20261129 },
    );
  });
});
