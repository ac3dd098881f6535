import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Storage } from '@google-cloud/storage';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { closeContext, openContext } from '../../src/open.js';
import { GcsStore } from '../../src/storage/gcs-store.js';
import { keys } from '../../src/storage/keys.js';
import { S3Store, createS3Client } from '../../src/storage/s3-store.js';
import type { ObjectStore } from '../../src/storage/types.js';
import { allRows, auth, countRows, createTestApp, TOKEN, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';
import { startGcsServer } from '../helpers/gcs-server.js';
import { S3RVER_CREDENTIALS, startS3Server } from '../helpers/s3-server.js';

/**
 * The historic load, backup and restore paths, end to end through HTTP, on each cloud store against
 * its local server, with the store confined to a prefix of a shared bucket.
 */

const BUCKET = 'dataport-e2e';
const PREFIX = 'team-a';
const TABLES = ['departments', 'jobs', 'hired_employees'] as const;
const EXPECTED = {
  departments: { loaded: 12, rejected: 2 },
  jobs: { loaded: 183, rejected: 2 },
  hired_employees: { loaded: 1979, rejected: 21 },
};

/** One cloud backend: stores on the shared bucket, by prefix, and one whose bucket does not exist. */
interface Cloud {
  store(prefix: string): ObjectStore;
  missingBucket(): ObjectStore;
  /** The variables that make `createStore` build a store for `url` against this server. */
  env: Record<string, string>;
  scheme: 's3' | 'gs';
  close(): Promise<void>;
}

const clouds: { name: string; start(): Promise<Cloud> }[] = [
  {
    name: 's3 (s3rver)',
    async start() {
      const server = await startS3Server([BUCKET]);
      const client = createS3Client(server);
      return {
        store: (prefix) => new S3Store({ bucket: BUCKET, prefix, client }),
        missingBucket: () => new S3Store({ bucket: 'no-such-bucket', prefix: PREFIX, client }),
        env: { STORAGE_ENDPOINT: server.endpoint, STORAGE_REGION: server.region },
        scheme: 's3',
        async close() {
          client.destroy();
          await server.close();
        },
      };
    },
  },
  {
    name: 'gcs (local JSON API server)',
    async start() {
      const server = await startGcsServer([BUCKET]);
      const storage = new Storage({ apiEndpoint: server.endpoint, projectId: 'test' });
      return {
        store: (prefix) => new GcsStore({ bucket: BUCKET, prefix, storage }),
        missingBucket: () => new GcsStore({ bucket: 'no-such-bucket', prefix: PREFIX, storage }),
        env: { STORAGE_ENDPOINT: server.endpoint },
        scheme: 'gs',
        close: () => server.close(),
      };
    },
  },
];

const load = (t: TestApp, table: string) =>
  t.app.inject({ method: 'POST', url: `/load_historic_data/${table}`, headers: auth });
const backup = (t: TestApp, table: string) =>
  t.app.inject({ method: 'POST', url: `/backup_table/${table}`, headers: auth });
const restore = (t: TestApp, table: string) =>
  t.app.inject({ method: 'POST', url: `/restore_backup/${table}`, headers: auth });
const ready = (t: { app: TestApp['app'] }) => t.app.inject({ method: 'GET', url: '/readyz' });

/** Copies the repository's sample CSVs into the store, at the keys the loads read. */
async function uploadSamples(store: ObjectStore) {
  for (const table of TABLES) {
    const key = keys.historic(table);
    await store.write(key, createReadStream(path.resolve('storage', key)), { contentType: 'text/csv' });
  }
}

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const info of store.list(prefix)) found.push(info.key);
  return found.sort();
}

describe.each(clouds)('end to end on $name', (cloud) => {
  let c: Cloud;
  beforeAll(async () => {
    c = await cloud.start();
  });
  afterAll(async () => c?.close());

  describe.each(testEngines())('with $name', (engine) => {
    const open: { close(): Promise<void> }[] = [];
    const app = async (options: Parameters<typeof createTestApp>[1]) => {
      const t = await createTestApp(engine, options);
      open.push(t);
      return t;
    };
    afterEach(async () => {
      for (const t of open.splice(0)) await t.close();
    });

    it('loads the historic files, backs up under the prefix, and restores the table as it was', async () => {
      // A prefix per engine, so engines sharing the server never see each other's files.
      const prefix = `${PREFIX}-${engine.name}`;
      const t = await app({ store: c.store(prefix) });
      await uploadSamples(t.store);

      for (const table of TABLES) {
        const res = await load(t, table);
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json()).toMatchObject({ table, source: keys.historic(table), ...EXPECTED[table] });
        expect(await countRows(t, table)).toBe(EXPECTED[table].loaded);
      }

      const before = await allRows(t, 'hired_employees');
      const res = await backup(t, 'hired_employees');
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({
        key: keys.backup('hired_employees'),
        rows: EXPECTED.hired_employees.loaded,
      });
      // The objects sit under the prefix in the bucket itself, not merely as seen through the store.
      const root = c.store('');
      expect(await root.stat(`${prefix}/${body.key}`)).toMatchObject({ size: body.bytes });
      expect(await root.stat(`${prefix}/${body.history_key}`)).toMatchObject({ size: body.bytes });
      expect(await root.stat(body.key)).toBeNull();
      expect(await keysUnder(t.store, keys.backupPrefix('hired_employees'))).toEqual(
        [body.key, body.history_key, keys.checksum(body.key), keys.checksum(body.history_key)].sort(),
      );
      const history = await t.app.inject({ method: 'GET', url: '/backups/hired_employees' });
      expect(history.json().backups).toEqual([
        { key: body.history_key, rows: body.rows, bytes: body.bytes, created_at: body.created_at },
      ]);

      await t.ctx.engine.db.deleteFrom('hired_employees').where('id', '<=', 500).execute();
      await t.ctx.engine.db
        .updateTable('hired_employees')
        .set({ name: 'Changed' })
        .where('id', '=', 1000)
        .execute();
      expect(await countRows(t, 'hired_employees')).toBeLessThan(before.length);

      const restored = await restore(t, 'hired_employees');
      expect(restored.statusCode, restored.body).toBe(200);
      expect(restored.json()).toMatchObject({ key: body.key, rows_restored: before.length });
      expect(await allRows(t, 'hired_employees')).toEqual(before);
    });

    it('answers 404 source_not_found when the historic file is missing', async () => {
      const t = await app({ store: c.store(`${PREFIX}-empty-${engine.name}`) });
      const res = await load(t, 'jobs');
      expect(res.statusCode, res.body).toBe(404);
      expect(res.json().error.code).toBe('source_not_found');
      expect(res.json().error.message).toContain(keys.historic('jobs'));
      expect(res.json().error.message).toContain(t.store.url);
    });

    it('is ready when the bucket is reachable', async () => {
      const t = await app({ store: c.store(PREFIX) });
      const res = await ready(t);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ ready: true, database: { ok: true }, storage: { ok: true } });
    });

    it('starts with a missing bucket, logs why, and reports not ready', async () => {
      const database = await engine.create();
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      });
      const config = loadConfig({ DATABASE_URL: database.url, API_TOKEN: TOKEN, LOG_LEVEL: 'silent' });
      const store = c.missingBucket();
      const ctx = await openContext(config, { log: pino({ level: 'info' }, sink), store });
      const built = await buildApp(config, ctx);
      open.push({
        async close() {
          await built.close();
          await closeContext(ctx);
          await database.drop();
        },
      });

      const logged = lines.map(
        (l) => JSON.parse(l) as { level: number; msg: string; storage?: string; err?: { message: string } },
      );
      const error = logged.find((l) => l.level === 50);
      expect(error).toMatchObject({
        storage: store.url,
        msg: expect.stringMatching(/storage is not reachable/),
      });
      // pino appends the causes' messages (here the SDK's) to the error's own.
      expect(error?.err?.message).toContain(`bucket of ${store.url} does not exist`);

      const res = await ready({ app: built });
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json()).toEqual({
        ready: false,
        database: { ok: true },
        storage: { ok: false, error: `bucket of ${store.url} does not exist` },
      });
    });

    it('builds a working store from STORAGE_URL and STORAGE_ENDPOINT alone', async () => {
      const prefix = `env/${engine.name}`;
      const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
      // The S3 client takes its credentials from the default provider chain, as in production.
      if (c.scheme === 's3') {
        process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
        process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
      }
      try {
        const t = await app({ env: { STORAGE_URL: `${c.scheme}://${BUCKET}/${prefix}`, ...c.env } });
        expect(t.store).toBeInstanceOf(c.scheme === 's3' ? S3Store : GcsStore);
        expect(t.store.url).toBe(`${c.scheme}://${BUCKET}/${prefix}`);
        expect((await ready(t)).statusCode).toBe(200);

        await uploadSamples(t.store);
        const res = await load(t, 'departments');
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json()).toMatchObject(EXPECTED.departments);
        const backedUp = await backup(t, 'departments');
        expect(backedUp.statusCode, backedUp.body).toBe(200);
        expect(await c.store('').stat(`${prefix}/${keys.backup('departments')}`)).toMatchObject({
          size: backedUp.json().bytes,
        });
      } finally {
        restoreEnv('AWS_ACCESS_KEY_ID', saved.id);
        restoreEnv('AWS_SECRET_ACCESS_KEY', saved.secret);
      }
    });
  });
});

function restoreEnv(name: string, value: string | undefined) {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
