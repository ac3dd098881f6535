import { mkdtempSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Context } from '../../src/context.js';
import { closeContext, openContext } from '../../src/open.js';
import { FsStore } from '../../src/storage/fs-store.js';
import type { ObjectStore } from '../../src/storage/types.js';
import type { Catalogue } from '../../src/tables/catalogue.js';
import type { TestEngine } from './engines.js';

export const TOKEN = 'test-token-0123456789abcdef';

export interface TestApp {
  app: FastifyInstance;
  ctx: Context;
  config: Config;
  store: ObjectStore;
  /** The bucket folder, for tests that place files in it. */
  bucket: string;
  close(): Promise<void>;
}

/** A fresh database on `engine`, a fresh bucket folder, and the app built on them. */
export async function createTestApp(
  engine: TestEngine,
  options: {
    env?: Record<string, string>;
    catalogue?: Catalogue;
    store?: ObjectStore;
    withSamples?: boolean;
  } = {},
): Promise<TestApp> {
  const database = await engine.create();
  const bucket = mkdtempSync(path.join(tmpdir(), 'dataport-bucket-'));
  if (options.withSamples) await cp(path.resolve('storage'), bucket, { recursive: true });
  // A STORAGE_URL in env (and no store) lets openContext build the store from the URL, as in production.
  const store = options.store ?? (options.env?.STORAGE_URL ? undefined : new FsStore(bucket));
  const config = loadConfig({
    DATABASE_URL: database.url,
    STORAGE_URL: `file:${bucket}`,
    API_TOKEN: TOKEN,
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const ctx = await openContext(config, {
    log: pino({ level: 'silent' }),
    catalogue: options.catalogue,
    store,
  });
  const app = await buildApp(config, ctx);
  return {
    app,
    ctx,
    config,
    store: ctx.store,
    bucket,
    async close() {
      await app.close();
      await closeContext(ctx);
      await database.drop();
    },
  };
}

export const auth = { authorization: `Bearer ${TOKEN}` };

/** Writes a historic CSV for `table` into the test bucket. */
export async function putHistoric(t: TestApp, table: string, text: string | Buffer) {
  const { Readable } = await import('node:stream');
  await t.store.write(`database/${table}/historic/${table}.csv`, Readable.from([Buffer.from(text)]));
}

export async function countRows(t: TestApp, table: string): Promise<number> {
  const [{ n }] = await t.ctx.engine.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll().as('n'))
    .execute();
  return Number(n);
}

export async function allRows(t: TestApp, table: string) {
  return t.ctx.engine.db.selectFrom(table).selectAll().orderBy('id').execute();
}
