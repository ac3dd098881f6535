import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, createTestApp, putHistoric, type TestApp } from '../helpers/app.js';
import { HEADER } from '../../src/formats/avro/container.js';
import { testEngines } from '../helpers/engines.js';
import { fingerprint, jobsCsv, jobsRows, random, tableRows } from '../reliability/helpers.js';

/**
 * Restores of broken and hostile Avro files: each is 422 invalid_backup, the table keeps its rows,
 * and nothing the file declares (block sizes, record counts) is allocated before it is checked.
 */
const HOSTILE_KEY = 'database/jobs/backup/jobs-20990101T000000000Z.avro';
const LONG = avro.Type.forSchema('long');
const JOBS_SCHEMA = {
  type: 'record',
  name: 'jobs',
  fields: [
    { name: 'id', type: 'int' },
    { name: 'job', type: 'string' },
  ],
};
const SYNC = Buffer.alloc(16, 7);

/** A hand-framed Avro file: a header, then the given blocks (count, data) with our sync marker. */
function framed(blocks: { count: number; size?: number; data: Buffer }[], meta: Record<string, string> = {}) {
  const header = HEADER.toBuffer({
    magic: Buffer.from('Obj\x01', 'latin1'),
    meta: Object.fromEntries(
      Object.entries({ 'avro.schema': JSON.stringify(JOBS_SCHEMA), 'avro.codec': 'deflate', ...meta }).map(
        ([k, v]) => [k, Buffer.from(v)],
      ),
    ),
    sync: SYNC,
  });
  return Buffer.concat([
    header,
    ...blocks.flatMap((b) => [LONG.toBuffer(b.count), LONG.toBuffer(b.size ?? b.data.length), b.data, SYNC]),
  ]);
}

describe.each(testEngines())('hostile Avro on $name', (engine) => {
  let t: TestApp;
  const files: Record<string, Buffer> = {};
  const OLD = fingerprint(jobsRows(1, 30, 'old'));
  const BACKUP = fingerprint(jobsRows(1, 300, 'backed up'));

  beforeAll(async () => {
    t = await createTestApp(engine);
    const post = (url: string) => t.app.inject({ method: 'POST', url, headers: auth });
    await putHistoric(t, 'departments', '1,Sales\n');
    expect((await post('/load_historic_data/departments')).statusCode).toBe(200);
    expect((await post('/backup_table/departments')).statusCode).toBe(200);
    files.departments = await readFile(path.join(t.bucket, 'database/departments/backup/departments.avro'));
    await putHistoric(t, 'jobs', jobsCsv(1, 300, 'backed up'));
    expect((await post('/load_historic_data/jobs')).statusCode).toBe(200);
    for (const codec of ['null', 'deflate', 'snappy']) {
      expect((await post(`/backup_table/jobs?codec=${codec}`)).statusCode).toBe(200);
      files[codec] = await readFile(path.join(t.bucket, 'database/jobs/backup/jobs.avro'));
    }
    await t.ctx.engine.db.deleteFrom('jobs').execute();
    await putHistoric(t, 'jobs', jobsCsv(1, 30, 'old'));
    expect((await post('/load_historic_data/jobs')).statusCode).toBe(200);
  });
  afterAll(async () => t?.close());

  async function restore(bytes: Buffer) {
    await writeFile(path.join(t.bucket, HOSTILE_KEY), bytes);
    return t.app.inject({
      method: 'POST',
      url: `/restore_backup/jobs?key=${encodeURIComponent(HOSTILE_KEY)}`,
      headers: auth,
    });
  }
  async function refused(bytes: Buffer, message?: RegExp) {
    const res = await restore(bytes);
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json().error.code).toBe('invalid_backup');
    if (message) expect(res.json().error.message).toMatch(message);
    expect(fingerprint(await tableRows(t.ctx.engine, 'jobs'))).toEqual(OLD);
  }

  it('wrong magic bytes', async () => {
    const bytes = Buffer.from(files.deflate);
    bytes.write('PK\x03\x04', 0, 'latin1');
    await refused(bytes, /wrong magic/);
    await refused(Buffer.from('id,job\n1,x\n'), /magic/);
    await refused(Buffer.alloc(0), /too short/);
  });

  it('truncated files, at every tenth of the file', async () => {
    for (const codec of ['null', 'deflate', 'snappy']) {
      const bytes = files[codec];
      for (let i = 1; i < 10; i++) await refused(bytes.subarray(0, Math.floor((bytes.length * i) / 10)));
      await refused(bytes.subarray(0, bytes.length - 1));
    }
  });

  it('flipped bits: refused by the codec or by the sha256 written beside the backup', async () => {
    const next = random(20260101);
    const silent: string[] = [];
    const sidecar = path.join(t.bucket, `${HOSTILE_KEY}.sha256`);
    for (const codec of ['null', 'deflate', 'snappy']) {
      await writeFile(sidecar, `${createHash('sha256').update(files[codec]).digest('hex')}  x.avro\n`);
      for (let n = 0; n < 40; n++) {
        const bytes = Buffer.from(files[codec]);
        const bit = Math.floor(next() * bytes.length * 8);
        bytes[bit >> 3] ^= 1 << (bit & 7);
        const res = await restore(bytes);
        if (res.statusCode === 422) {
          expect(res.json().error.code).toBe('invalid_backup');
          expect(fingerprint(await tableRows(t.ctx.engine, 'jobs'))).toEqual(OLD);
          continue;
        }
        expect(res.statusCode, res.body).toBe(200);
        const now = fingerprint(await tableRows(t.ctx.engine, 'jobs'));
        // A flip in metadata the restore does not use (created_at, schema_version) changes nothing.
        if (now.sha256 !== BACKUP.sha256) silent.push(`${codec} bit ${bit}`);
        // Back to the old rows for the next attempt.
        await t.ctx.engine.db.deleteFrom('jobs').execute();
        await t.app.inject({ method: 'POST', url: '/load_historic_data/jobs', headers: auth });
      }
    }
    await unlink(sidecar);
    // null and deflate blocks carry no checksum (Avro's choice); the sha256 beside every backup that
    // dataport writes catches what the codec cannot, before the restore commits.
    expect(silent).toEqual([]);
  });

  it('without the sha256 beside it, only snappy catches every flipped bit', async () => {
    const next = random(20260102);
    for (let n = 0; n < 40; n++) {
      const bytes = Buffer.from(files.snappy);
      const bit = Math.floor(next() * bytes.length * 8);
      bytes[bit >> 3] ^= 1 << (bit & 7);
      const res = await restore(bytes);
      if (res.statusCode === 200) {
        // Only a flip in header metadata that the restore does not use may pass, and it changes nothing.
        expect(fingerprint(await tableRows(t.ctx.engine, 'jobs')).sha256).toBe(BACKUP.sha256);
        await t.ctx.engine.db.deleteFrom('jobs').execute();
        await t.app.inject({ method: 'POST', url: '/load_historic_data/jobs', headers: auth });
      } else {
        expect(res.json().error.code).toBe('invalid_backup');
        expect(fingerprint(await tableRows(t.ctx.engine, 'jobs'))).toEqual(OLD);
      }
    }
  });

  it('a backup of another table, and a schema for another table', async () => {
    await refused(files.departments, /departments/);
    const other = { ...JOBS_SCHEMA, name: 'departments' };
    await refused(framed([], { 'avro.schema': JSON.stringify(other) }), /departments/);
    const wrongType = { ...JOBS_SCHEMA, fields: [{ name: 'id', type: 'string' }, JOBS_SCHEMA.fields[1]] };
    await refused(
      framed([], { 'avro.schema': JSON.stringify(wrongType) }),
      /column id is string in the file but integer in the catalogue/,
    );
    await refused(framed([], { 'avro.schema': '{"type":' }), /schema/);
  });

  it('a huge declared block size or record count is refused without being allocated', async () => {
    const before = process.memoryUsage().rss;
    await refused(framed([{ count: 1, size: 2 ** 50, data: Buffer.alloc(10) }]), /byte limit/);
    await refused(framed([{ count: 1, size: 60 * 1024 * 1024, data: Buffer.alloc(10) }]), /truncated/);
    await refused(
      framed([{ count: 2 ** 40, data: zlib.deflateRawSync(Buffer.from([2, 2, 120])) }]),
      /declares/,
    );
    // 30 million empty records in 58 KB of deflate: streamed one bounded queue at a time, and the
    // first one (id 0) already breaks a rule. Before the fix this ran the process out of memory.
    await refused(
      framed([{ count: 30_000_000, data: zlib.deflateRawSync(Buffer.alloc(60_000_000)) }]),
      /record 0 .*invalid_integer/,
    );
    expect(process.memoryUsage().rss - before).toBeLessThan(400 * 1024 * 1024);
  });

  it('a valid file still restores (the hostile ones changed nothing for good ones)', async () => {
    const res = await restore(files.snappy);
    expect(res.statusCode, res.body).toBe(200);
    expect(fingerprint(await tableRows(t.ctx.engine, 'jobs'))).toEqual(BACKUP);
  });
});
