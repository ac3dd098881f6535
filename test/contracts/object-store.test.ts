import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createStore } from '../../src/storage/from-url.js';
import { FsStore } from '../../src/storage/fs-store.js';
import { GcsStore } from '../../src/storage/gcs-store.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { S3Store, createS3Client } from '../../src/storage/s3-store.js';
import type { ObjectStore } from '../../src/storage/types.js';
import { startGcsServer } from '../helpers/gcs-server.js';
import { s3rverCanPage, startS3Server } from '../helpers/s3-server.js';

/** What the contract needs from a backend: stores that share one bucket, told apart by prefix. */
interface Harness {
  store(prefix: string, options?: { pageSize?: number }): ObjectStore;
  /** True when a store without prefix sees the objects of prefixed stores (false for memory). */
  sharedBucket: boolean;
  /** A store whose bucket does not exist, if the backend has such a thing. */
  missingBucket?(): ObjectStore;
  /** A store whose credentials the server refuses, if the backend checks them. */
  badCredentials?(): ObjectStore;
  /** The content type the backend stored for `key` under `prefix`, if it keeps one. */
  contentType?(prefix: string, key: string): Promise<string | undefined>;
  /** False when this backend cannot page here (s3rver without the OpenSSL legacy provider). */
  canPage?: boolean;
  close(): Promise<void>;
}

const MB = 1024 * 1024;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function collect(iterable: AsyncIterable<{ key: string }>): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of iterable) keys.push(info.key);
  return keys.sort();
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk);
  return hash.digest('hex');
}

/** `size` bytes of deterministic noise, produced chunk by chunk; `failAfter` bytes in, it errors. */
function generated(size: number, failAfter = Infinity): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  async function* chunks() {
    let sent = 0;
    let seed = 12345;
    while (sent < size) {
      if (sent >= failAfter) throw new Error('source failed mid-way');
      const chunk = Buffer.alloc(Math.min(256 * 1024, size - sent));
      for (let i = 0; i < chunk.length; i += 4) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        chunk.writeUInt32LE(seed, i);
      }
      hash.update(chunk);
      sent += chunk.length;
      yield chunk;
    }
  }
  return { stream: Readable.from(chunks(), { objectMode: false }), sha256: () => hash.digest('hex') };
}

const text = (s: string) => Readable.from([Buffer.from(s)]);

/** The rejection of `promise`, or undefined when it resolves. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  // prettier-ignore
  return promise.then(() => undefined, (e: unknown) => e);
}

async function expectCode(promise: Promise<unknown>, code: string) {
  const error = await failure(promise);
  expect(error, `expected AppError ${code}`).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  return error as AppError;
}

function objectStoreContract(name: string, setup: () => Promise<Harness>) {
  describe(`ObjectStore contract: ${name}`, () => {
    let h: Harness;
    let n = 0;
    // Each test works under its own prefix, so tests never see each other's objects.
    const fresh = (options?: { pageSize?: number }) => h.store(`t${++n}`, options);

    beforeAll(async () => {
      h = await setup();
    });
    afterAll(async () => {
      await h?.close();
    });

    it('writes, stats, reads, lists and deletes an object', async () => {
      const store = fresh();
      const info = await store.write('a/b/hello.txt', text('hello world'), { contentType: 'text/plain' });
      expect(info).toMatchObject({ key: 'a/b/hello.txt', size: 11 });
      expect(info.updatedAt).toBeInstanceOf(Date);
      expect(await store.stat('a/b/hello.txt')).toMatchObject({ key: 'a/b/hello.txt', size: 11 });
      expect((await readAll(await store.read('a/b/hello.txt'))).toString()).toBe('hello world');
      expect(await collect(store.list(''))).toEqual(['a/b/hello.txt']);
      await store.delete('a/b/hello.txt');
      expect(await store.stat('a/b/hello.txt')).toBeNull();
      expect(await collect(store.list(''))).toEqual([]);
    });

    it('overwrites an object and keeps binary data intact', async () => {
      const store = fresh();
      const bytes = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) % 256));
      await store.write('bin', text('first'));
      await store.write('bin', Readable.from([bytes.subarray(0, 100), bytes.subarray(100)]));
      expect((await readAll(await store.read('bin'))).equals(bytes)).toBe(true);
      expect((await store.stat('bin'))!.size).toBe(512);
    });

    it('writes an empty object', async () => {
      const store = fresh();
      expect((await store.write('empty', Readable.from([]))).size).toBe(0);
      expect((await readAll(await store.read('empty'))).length).toBe(0);
    });

    it('streams a 20 MB object both ways', async () => {
      const store = fresh();
      const source = generated(20 * MB);
      expect((await store.write('big.bin', source.stream)).size).toBe(20 * MB);
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of await store.read('big.bin')) {
        hash.update(chunk);
        size += chunk.length;
      }
      expect(size).toBe(20 * MB);
      expect(hash.digest('hex')).toBe(source.sha256());
    }, 60_000);

    it('keeps the previous object when the body errors mid-way', async () => {
      const store = fresh();
      await store.write('report.csv', text('old content'));
      // 12 MB in: past S3's first 5 MiB parts and well into a GCS upload request.
      const error = await failure(store.write('report.csv', generated(20 * MB, 12 * MB).stream));
      expect(error).toBeInstanceOf(AppError);
      // The body's own failure is reported (s3rver refuses AbortMultipartUpload; that must not mask it).
      expect((error as AppError).message).toMatch(/source failed mid-way/);
      expect((await readAll(await store.read('report.csv'))).toString()).toBe('old content');
      expect(await collect(store.list(''))).toEqual(['report.csv']);
      // A failed first write publishes nothing either.
      await store.write('new.csv', generated(8 * MB, 6 * MB).stream).catch(() => undefined);
      expect(await store.stat('new.csv')).toBeNull();
    }, 60_000);

    it('copies an object to a new key and keeps the source', async () => {
      const store = fresh();
      const source = generated(3 * MB);
      await store.write('from/data.bin', source.stream);
      const sha256 = source.sha256();
      const info = await store.copy('from/data.bin', 'to/deeper/data.bin');
      expect(info).toMatchObject({ key: 'to/deeper/data.bin', size: 3 * MB });
      expect(info.updatedAt).toBeInstanceOf(Date);
      expect(await store.stat('to/deeper/data.bin')).toMatchObject({ size: 3 * MB });
      expect(await sha256Of(await store.read('to/deeper/data.bin'))).toBe(sha256);
      expect(await sha256Of(await store.read('from/data.bin'))).toBe(sha256);
      expect(await collect(store.list(''))).toEqual(['from/data.bin', 'to/deeper/data.bin']);
    }, 60_000);

    it('copies over an existing object, and onto itself', async () => {
      const store = fresh();
      const source = generated(2 * MB);
      await store.write('latest.avro', text('the previous backup'));
      await store.write('history.avro', source.stream);
      const sha256 = source.sha256();
      expect((await store.copy('history.avro', 'latest.avro')).size).toBe(2 * MB);
      expect(await sha256Of(await store.read('latest.avro'))).toBe(sha256);
      expect((await store.copy('latest.avro', 'latest.avro')).size).toBe(2 * MB);
      expect(await sha256Of(await store.read('latest.avro'))).toBe(sha256);
      expect(await collect(store.list(''))).toEqual(['history.avro', 'latest.avro']);
    }, 60_000);

    it('copying a missing object throws object_not_found and leaves the destination', async () => {
      const store = fresh();
      await store.write('kept.csv', text('old content'));
      const error = await expectCode(store.copy('nope/missing.csv', 'kept.csv'), 'object_not_found');
      expect(error.message).toContain('nope/missing.csv');
      await expectCode(store.copy('nope/missing.csv', 'new.csv'), 'object_not_found');
      expect((await readAll(await store.read('kept.csv'))).toString()).toBe('old content');
      expect(await collect(store.list(''))).toEqual(['kept.csv']);
    });

    it("copy keeps the source's content type, or sets the one given", async (ctx) => {
      if (!h.contentType) ctx.skip('backend keeps no content type');
      const prefix = `t${++n}`;
      const store = h.store(prefix);
      await store.write('report.csv', text('a,b\n'), { contentType: 'text/csv' });
      await store.copy('report.csv', 'same.csv');
      await store.copy('report.csv', 'other.bin', { contentType: 'application/avro' });
      expect(await h.contentType!(prefix, 'same.csv')).toBe('text/csv');
      expect(await h.contentType!(prefix, 'other.bin')).toBe('application/avro');
      expect(await h.contentType!(prefix, 'report.csv')).toBe('text/csv');
    });

    it('reports missing objects', async () => {
      const store = fresh();
      const error = await expectCode(store.read('nope/missing.csv'), 'object_not_found');
      expect(error.status).toBe(404);
      expect(await store.stat('nope/missing.csv')).toBeNull();
      await store.delete('nope/missing.csv');
    });

    it('refuses invalid keys with invalid_key', async () => {
      const store = fresh();
      await store.write('ok', text('x'));
      for (const key of ['../x', '/abs', 'a//b', 'a/./b', '', 'a\\b']) {
        await expectCode(store.copy(key, 'ok'), 'invalid_key');
        await expectCode(store.copy('ok', key), 'invalid_key');
        // The destination's key is checked before the (missing) source is looked for.
        await expectCode(store.copy('missing', key), 'invalid_key');
        await expectCode(store.read(key), 'invalid_key');
        await expectCode(store.write(key, text('x')), 'invalid_key');
        await expectCode(store.stat(key), 'invalid_key');
        await expectCode(store.delete(key), 'invalid_key');
      }
      await expectCode(collect(store.list('../')), 'invalid_key');
      expect(await collect(store.list(''))).toEqual(['ok']);
    });

    it('lists by prefix, and a prefixed store never sees another prefix', async () => {
      const base = `iso${++n}`;
      const p1 = h.store(`${base}/p1`);
      const p10 = h.store(`${base}/p10`);
      const p2 = h.store(`${base}/p2`);
      await p1.write('db/t1/a.avro', text('1'));
      await p1.write('db/t1/b.avro', text('2'));
      await p1.write('db/t2/c.avro', text('3'));
      await p10.write('db/t1/x.avro', text('4'));
      await p2.write('db/t1/y.avro', text('5'));
      expect(await collect(p1.list('db/t1/'))).toEqual(['db/t1/a.avro', 'db/t1/b.avro']);
      expect(await collect(p1.list('db/t'))).toEqual(['db/t1/a.avro', 'db/t1/b.avro', 'db/t2/c.avro']);
      expect(await collect(p1.list(''))).toEqual(['db/t1/a.avro', 'db/t1/b.avro', 'db/t2/c.avro']);
      expect(await collect(p2.list(''))).toEqual(['db/t1/y.avro']);
      await expectCode(p2.read('db/t1/a.avro'), 'object_not_found');
      expect(await collect(p1.list('db/t3/'))).toEqual([]);
      if (h.sharedBucket) {
        const root = h.store(base);
        expect(await collect(root.list('p1/'))).toEqual([
          'p1/db/t1/a.avro',
          'p1/db/t1/b.avro',
          'p1/db/t2/c.avro',
        ]);
      }
    });

    it('lists across several pages', async (ctx) => {
      if (h.canPage === false) ctx.skip('s3rver pages only under --openssl-legacy-provider');
      const store = fresh({ pageSize: 2 });
      for (const k of ['a', 'b', 'c', 'd', 'e']) await store.write(`paged/${k}`, text(k));
      expect(await collect(store.list('paged/'))).toEqual([
        'paged/a',
        'paged/b',
        'paged/c',
        'paged/d',
        'paged/e',
      ]);
    });

    it('check() passes on a reachable store and fails clearly on a missing bucket', async (ctx) => {
      await fresh().check();
      if (!h.missingBucket) ctx.skip('no bucket to miss');
      const error = await expectCode(h.missingBucket!().check(), 'storage_unavailable');
      expect(error.cause).toBeDefined();
    });

    it('check() reports refused credentials as access_denied', async (ctx) => {
      if (!h.badCredentials) ctx.skip('backend does not check credentials');
      const error = await expectCode(h.badCredentials!().check(), 'access_denied');
      expect(error.cause).toBeDefined();
    });
  });
}

objectStoreContract('fs', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'dataport-fs-'));
  await writeFile(path.join(root, 'a-file'), 'x');
  return {
    store: (prefix) => new FsStore(path.join(root, prefix)),
    sharedBucket: true,
    // A folder that cannot exist: its parent is a plain file.
    missingBucket: () => new FsStore(path.join(root, 'a-file', 'bucket')),
    close: () => rm(root, { recursive: true, force: true }),
  };
});

objectStoreContract('memory', async () => {
  const stores = new Map<string, MemoryStore>();
  return {
    store: (prefix) => stores.get(prefix) ?? stores.set(prefix, new MemoryStore()).get(prefix)!,
    sharedBucket: false,
    close: async () => undefined,
  };
});

objectStoreContract('s3 (s3rver)', async () => {
  const server = await startS3Server(['test-bucket']);
  const client = createS3Client(server);
  return {
    store: (prefix, options) => new S3Store({ bucket: 'test-bucket', prefix, client, ...options }),
    sharedBucket: true,
    missingBucket: () => new S3Store({ bucket: 'no-such-bucket', client }),
    badCredentials: () => {
      const credentials = { accessKeyId: 'WRONG', secretAccessKey: 'WRONG' };
      return new S3Store({ bucket: 'test-bucket', client: createS3Client({ ...server, credentials }) });
    },
    contentType: async (prefix, key) =>
      (await client.send(new HeadObjectCommand({ Bucket: 'test-bucket', Key: `${prefix}/${key}` })))
        .ContentType,
    canPage: s3rverCanPage(),
    close: async () => {
      client.destroy();
      await server.close();
    },
  };
});

objectStoreContract('gcs (local JSON API server)', async () => {
  const server = await startGcsServer(['test-bucket']);
  const storage = new Storage({ apiEndpoint: server.endpoint, projectId: 'test' });
  return {
    store: (prefix, options) => new GcsStore({ bucket: 'test-bucket', prefix, storage, ...options }),
    sharedBucket: true,
    missingBucket: () => new GcsStore({ bucket: 'no-such-bucket', storage }),
    contentType: async (prefix, key) =>
      (await storage.bucket('test-bucket').file(`${prefix}/${key}`).getMetadata())[0].contentType,
    close: () => server.close(),
  };
});

describe('S3Store.copy above the single-request limit', () => {
  it('streams the object through read and write instead of CopyObject', async () => {
    const server = await startS3Server(['test-bucket']);
    const client = createS3Client(server);
    try {
      const store = new S3Store({ bucket: 'test-bucket', prefix: 'limit', client, copyLimit: MB });
      const source = generated(3 * MB);
      await store.write('big.bin', source.stream, { contentType: 'text/csv' });
      const sha256 = source.sha256();
      await store.write('copy.bin', text('old content'));
      expect(await store.copy('big.bin', 'copy.bin')).toMatchObject({ key: 'copy.bin', size: 3 * MB });
      expect(await sha256Of(await store.read('copy.bin'))).toBe(sha256);
      const head = await client.send(new HeadObjectCommand({ Bucket: 'test-bucket', Key: 'limit/copy.bin' }));
      expect(head.ContentType).toBe('text/csv');
      await expectCode(store.copy('missing.bin', 'copy.bin'), 'object_not_found');
    } finally {
      client.destroy();
      await server.close();
    }
  }, 60_000);
});

describe('createStore', () => {
  it('builds each backend from its URL', async () => {
    expect(await createStore('file:./data', {})).toBeInstanceOf(FsStore);
    expect(await createStore('memory:', {})).toBeInstanceOf(MemoryStore);
    const gcs = await createStore('gs://my-bucket/backups/prod/', { endpoint: 'http://127.0.0.1:1' });
    expect(gcs).toBeInstanceOf(GcsStore);
    expect(gcs.url).toBe('gs://my-bucket/backups/prod');
    const s3 = await createStore('s3://my-bucket', { region: 'eu-west-1' });
    expect(s3).toBeInstanceOf(S3Store);
    expect(s3.url).toBe('s3://my-bucket');
  });

  it('refuses malformed URLs with a plain Error', async () => {
    const bad = ['', 'ftp://x', 'gs://', 's3://Bad_Bucket', 'gs://bucket/../x', 's3://bucket//x', 'file:'];
    for (const url of bad) {
      await expect(createStore(url, {}), url).rejects.toThrow(/STORAGE_URL/);
    }
    await expect(createStore('s3://bucket', { endpoint: 'localhost:9000' })).rejects.toThrow(
      /STORAGE_ENDPOINT/,
    );
  });

  it('talks to a server named by STORAGE_ENDPOINT', async () => {
    const server = await startGcsServer(['url-bucket']);
    try {
      const store = await createStore('gs://url-bucket/pre', { endpoint: server.endpoint });
      await store.check();
      await store.write('k', text('v'));
      expect((await readAll(await store.read('k'))).toString()).toBe('v');
    } finally {
      await server.close();
    }
  });
});
