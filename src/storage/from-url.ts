import { fileURLToPath } from 'node:url';
import { isAppError } from '../errors.js';
import { FsStore } from './fs-store.js';
import { normalizeKey } from './keys.js';
import { MemoryStore } from './memory-store.js';
import type { ObjectStore } from './types.js';

// Lower-case letters, digits, '.', '-' and '_', 3 to 222 characters: what both GCS and S3 accept.
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;

/**
 * Builds the store `STORAGE_URL` names: `file:PATH`, `memory:`, `gs://bucket[/prefix]` or
 * `s3://bucket[/prefix]`. `endpoint` (STORAGE_ENDPOINT) and `region` (STORAGE_REGION) apply to the
 * cloud stores. No network access happens here; call `check()` for that. The cloud SDKs are imported
 * only when their store is asked for: together they cost ~45 MB and ~0.3 s at every start.
 * @throws Error with a message naming the problem when the URL is not one of these forms
 */
export async function createStore(
  url: string,
  opts: { endpoint?: string; region?: string } = {},
): Promise<ObjectStore> {
  const bad = (why: string) => new Error(`STORAGE_URL '${url}' is invalid: ${why}`);
  if (url === 'memory:') return new MemoryStore();
  if (url.startsWith('file:')) {
    const path = url.startsWith('file://') ? fileURLToPath(url) : url.slice('file:'.length);
    if (!path) throw bad('expected file:PATH');
    return new FsStore(path);
  }
  const match = /^(gs|s3):\/\/([^/]*)(?:\/(.*))?$/.exec(url);
  if (!match) throw bad('expected file:PATH, gs://bucket[/prefix], s3://bucket[/prefix] or memory:');
  const [, scheme, bucket, rawPrefix = ''] = match;
  if (!BUCKET.test(bucket)) throw bad(`'${bucket}' is not a valid bucket name`);
  const prefix = rawPrefix.replace(/\/+$/, '');
  if (prefix) {
    try {
      normalizeKey(prefix);
    } catch (e) {
      throw bad(isAppError(e) ? e.message : String(e));
    }
  }
  if (opts.endpoint && !/^https?:\/\/[^/]+/.test(opts.endpoint)) {
    throw new Error(`STORAGE_ENDPOINT '${opts.endpoint}' is invalid: expected http(s)://host[:port]`);
  }
  if (scheme === 'gs') {
    const { GcsStore } = await import('./gcs-store.js');
    return new GcsStore({ bucket, prefix, endpoint: opts.endpoint });
  }
  const { S3Store } = await import('./s3-store.js');
  return new S3Store({ bucket, prefix, endpoint: opts.endpoint, region: opts.region });
}
