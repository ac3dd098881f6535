import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, createTestApp, putHistoric, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';
import { fingerprint, jobsCsv, jobsRows, tableRows } from '../reliability/helpers.js';

/**
 * Broken and hostile CSV and JSON: a file-level problem is a 4xx with a stable code and nothing is
 * written; a row-level one is a refused, logged row. Either way rows already in the table stay as they
 * were, and the process keeps serving.
 */
const OLD = fingerprint(jobsRows(1, 20, 'old'));
const csv = (...parts: (string | Buffer)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));

describe.each(testEngines())('hostile input on $name', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(engine);
    await putHistoric(t, 'jobs', jobsCsv(1, 20, 'old'));
    expect(
      (await t.app.inject({ method: 'POST', url: '/load_historic_data/jobs', headers: auth })).statusCode,
    ).toBe(200);
  });
  afterAll(async () => t?.close());

  const unchanged = async () => expect(fingerprint(await tableRows(t.ctx.engine, 'jobs'))).toEqual(OLD);
  const historic = async (text: string | Buffer) => {
    await putHistoric(t, 'jobs', text);
    return t.app.inject({ method: 'POST', url: '/load_historic_data/jobs', headers: auth });
  };
  const payload = (body: string | Buffer, type = 'text/csv') =>
    t.app.inject({
      method: 'POST',
      url: '/load_data_from_payload/jobs',
      headers: { ...auth, 'content-type': type },
      payload: body,
    });

  describe('CSV, as a historic file and as a text/csv payload', () => {
    const refusedWhole: [string, string | Buffer, RegExp][] = [
      ['an unterminated quote', '20,ok\n21,"never closed\n22,fine\n', /starting on line 2\b/],
      ['an empty file', '', /no rows/],
      ['only blank lines', '\n\n\r\n\n', /no rows/],
      ['a record over 16 MiB', `21,${'x'.repeat(17 * 1024 * 1024)}\n`, /starting on line 1\b/],
    ];
    it.each(refusedWhole)('%s: 422 invalid_csv, nothing written', async (_name, text, message) => {
      const res = await historic(text);
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json().error).toMatchObject({
        code: 'invalid_csv',
        message: expect.stringMatching(message),
      });
      await unchanged();
    });

    it('payload: unterminated quote is 422 invalid_csv, empty or blank is 400 empty_batch', async () => {
      const quote = await payload('21,"never closed\n');
      expect(quote.statusCode).toBe(422);
      expect(quote.json().error.code).toBe('invalid_csv');
      for (const body of ['\n\n\r\n', ' ']) {
        const res = await payload(body);
        expect([400, 200], res.body).toContain(res.statusCode);
        if (res.statusCode === 400) expect(res.json().error.code).toBe('empty_batch');
        else expect(res.json()).toMatchObject({ inserted: 0 });
      }
      const empty = await payload('');
      expect(empty.statusCode, empty.body).toBe(400);
      expect(['empty_batch', 'invalid_request']).toContain(empty.json().error.code);
      await unchanged();
    });

    const refusedRows: [string, string | Buffer, string][] = [
      ['wrong field counts', '21\n22,a,b\n23,"x,y",z\n', 'wrong_field_count'],
      ['a NUL byte', '21,ab\u0000c\n', 'invalid_character'],
      ['invalid UTF-8', csv('21,caf', Buffer.from([0xe9]), '\n'), 'invalid_encoding'],
      ['a NUL in an id', '2\u00001,abc\n', 'invalid_character'],
    ];
    it.each(refusedRows)('%s: every row refused and logged, nothing written', async (_name, text, reason) => {
      for (const res of [await historic(text), await payload(typeof text === 'string' ? text : text)]) {
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json();
        expect(body.loaded ?? body.inserted).toBe(0);
        expect(body.rejected).toBeGreaterThan(0);
        const logged = await t.app.inject(`/rejects/jobs?load_id=${body.load_id}`);
        expect(logged.json().rejects.map((r: { reason: string }) => r.reason)).toEqual(
          Array(body.rejected).fill(reason),
        );
      }
      await unchanged();
    });

    it('a 10 MB line: a too_long reject (raw text cut) in a file, 413 payload_too_large as a payload', async () => {
      const line = `21,${'x'.repeat(10 * 1024 * 1024)}\n`;
      const res = await historic(line);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ loaded: 0, rejected: 1 });
      const [logged] = (await t.app.inject(`/rejects/jobs?load_id=${res.json().load_id}`)).json().rejects;
      expect(logged.reason).toBe('too_long');
      expect(logged.raw.length).toBeLessThan(10_100);
      const big = await payload(line);
      expect(big.statusCode).toBe(413);
      expect(big.json().error.code).toBe('payload_too_large');
      await unchanged();
    });

    it('a BOM and mixed line endings are read exactly', async () => {
      const res = await historic('\uFEFF1,old job 1\r\n2,old job 2\n3,old job 3\r\n\r\n4,old job 4');
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ rows_read: 4, loaded: 4, rejected: 0 });
      const batch = await payload('\uFEFF21,Welder\r\n22,Baker\n');
      expect(batch.json()).toMatchObject({ inserted: 2, rejected: 0 });
      const rows = await tableRows(t.ctx.engine, 'jobs');
      expect(rows.filter((r) => (r.id as number) > 20)).toEqual([
        { id: 21, job: 'Welder' },
        { id: 22, job: 'Baker' },
      ]);
      await t.ctx.engine.db.deleteFrom('jobs').where('id', '>', 20).execute();
      await unchanged();
    });
  });

  describe('JSON payloads', () => {
    const json = (body: string) => payload(body, 'application/json');

    it('refuses deep nesting (10k and 1M levels) with 400 invalid_json, and keeps serving', async () => {
      for (const levels of [10_000, 1_000_000]) {
        for (const body of [
          '['.repeat(levels) + ']'.repeat(levels),
          `[{"id":1,"job":${'['.repeat(levels)}${']'.repeat(levels)}}]`,
          `{"id":${'{"a":'.repeat(levels / 10)}1${'}'.repeat(levels / 10)}}`,
        ]) {
          const res = await json(body);
          expect(res.statusCode, res.body.slice(0, 200)).toBe(400);
          expect(res.json().error.code).toBe('invalid_json');
        }
      }
      // Nesting inside strings is only text.
      const text = await json(`[{"id":21,"job":"${'['.repeat(50)}"}]`);
      expect(text.json()).toMatchObject({ inserted: 1 });
      await t.ctx.engine.db.deleteFrom('jobs').where('id', '=', 21).execute();
      expect((await t.app.inject('/healthz')).statusCode).toBe(200);
      await unchanged();
    });

    it('refuses a body over MAX_BODY_BYTES with 413 payload_too_large', async () => {
      const rows = Array.from({ length: 1000 }, (_, i) => ({ id: i + 100, job: 'x'.repeat(6000) }));
      const res = await json(JSON.stringify(rows));
      expect(res.statusCode).toBe(413);
      expect(res.json().error.code).toBe('payload_too_large');
      await unchanged();
    });

    it('refuses wrong types and numbers that are not ids as row rejects', async () => {
      const res = await json(
        '[{"id":"abc","job":"a"},{"id":true,"job":"a"},{"id":21,"job":5},{"id":22,"job":{"a":1}},' +
          '{"id":23,"job":["x"]},{"id":1e400,"job":"a"},{"id":1.5,"job":"a"},{"id":-1,"job":"a"},' +
          '{"id":0,"job":"a"},{"id":2147483648,"job":"a"},{"id":"1e3","job":"a"},{"id":null,"job":"a"},' +
          '{"id":24,"job":null},[1,2],"row",7,null]',
      );
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({ received: 17, inserted: 0, rejected: 17 });
      expect(body.rejects.map((r: { reason: string }) => r.reason)).toEqual([
        ...Array(2).fill('invalid_integer'),
        ...Array(3).fill('invalid_string'),
        ...Array(6).fill('invalid_integer'),
        'missing_value',
        'missing_value',
        ...Array(4).fill('not_an_object'),
      ]);
      await unchanged();
    });

    it('refuses __proto__ and constructor.prototype keys (400 invalid_json); a plain constructor key is an unknown_field', async () => {
      for (const body of [
        '[{"id":21,"job":"a","__proto__":{"polluted":true}}]',
        '{"__proto__":{"polluted":true},"id":21,"job":"a"}',
        '[{"id":21,"job":"a","constructor":{"prototype":{"polluted":true}}}]',
      ]) {
        const res = await json(body);
        expect(res.statusCode, body).toBe(400);
        expect(res.json().error.code).toBe('invalid_json');
      }
      const nul = await json('[{"id":21,"job":"a","bad\\u0000key":"x"}]');
      expect(nul.json()).toMatchObject({
        inserted: 0,
        rejects: [{ reason: 'unknown_field', column: 'bad\u2400key' }],
      });
      const plain = await json('[{"id":21,"job":"a","constructor":"x"}]');
      expect(plain.json()).toMatchObject({
        inserted: 0,
        rejects: [{ reason: 'unknown_field', column: 'constructor' }],
      });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      await unchanged();
    });

    it('takes the last of duplicate keys, as JSON.parse does', async () => {
      const res = await json('[{"id":1000,"job":"first","id":21,"job":"last"}]');
      expect(res.json()).toMatchObject({ inserted: 1, rejected: 0 });
      expect((await tableRows(t.ctx.engine, 'jobs')).filter((r) => (r.id as number) > 20)).toEqual([
        { id: 21, job: 'last' },
      ]);
      await t.ctx.engine.db.deleteFrom('jobs').where('id', '=', 21).execute();
      await unchanged();
    });

    it('refuses bodies that are not rows: 400 with a stable code', async () => {
      for (const [body, code] of [
        ['"row"', 'invalid_request'],
        ['42', 'invalid_request'],
        ['null', 'invalid_request'],
        ['[]', 'empty_batch'],
        ['{"id":1,', 'invalid_json'],
        ['', 'invalid_json'],
      ]) {
        const res = await json(body);
        expect(res.statusCode, body).toBe(400);
        expect(res.json().error.code, body).toBe(code);
      }
      const xml = await payload('<rows/>', 'application/xml');
      expect(xml.statusCode).toBe(415);
      expect(xml.json().error.code).toBe('unsupported_media_type');
      await unchanged();
    });
  });
});
