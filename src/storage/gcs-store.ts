import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  Storage,
  type Bucket,
  type File,
  type FileMetadata,
  type GetFilesOptions,
} from '@google-cloud/storage';
import { AppError } from '../errors.js';
import { guard, normalizePrefix } from './cloud.js';
import { joinKey, normalizeKey } from './keys.js';
import type { ObjectInfo, ObjectStore } from './types.js';

export interface GcsStoreOptions {
  bucket: string;
  /** Prepended to every key; '' or omitted for the bucket root. */
  prefix?: string;
  /** Another API endpoint (an emulator); such endpoints get no credentials from the client. */
  endpoint?: string;
  /** A ready client (tests hand in one bound to a local server); overrides `endpoint`. */
  storage?: Storage;
  /** Objects per list request; small values exercise paging in tests. */
  pageSize?: number;
}

// The client retries a refused connection for a long time; a readiness probe must answer sooner.
const CHECK_TIMEOUT_MS = 10_000;

/**
 * Google Cloud Storage. Credentials come from Application Default Credentials. Writes are resumable
 * uploads streamed in one request: GCS publishes the object only when the upload completes, so an
 * upload abandoned because the body failed leaves the previous object in place.
 */
export class GcsStore implements ObjectStore {
  readonly url: string;
  private readonly bucket: Bucket;
  private readonly prefix: string;
  private readonly pageSize?: number;

  constructor(options: GcsStoreOptions) {
    this.prefix = normalizePrefix(options.prefix);
    const storage = options.storage ?? new Storage(options.endpoint ? { apiEndpoint: options.endpoint } : {});
    this.bucket = storage.bucket(options.bucket);
    this.pageSize = options.pageSize;
    this.url = `gs://${options.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
  }

  private file(key: string): File {
    return this.bucket.file(joinKey(this.prefix, normalizeKey(key)));
  }

  /** Streams the object. @throws object_not_found, access_denied, storage_unavailable */
  async read(key: string): Promise<Readable> {
    const file = this.file(key);
    // The download starts only when the stream is read, so ask first to report a missing object here.
    await file.getMetadata().catch((e) => {
      throw wrap(e, key, this.url);
    });
    return guard(file.createReadStream(), (e) => wrap(e, key, this.url));
  }

  /**
   * Streams `body` into a resumable upload; the object appears only when the upload completes.
   * @throws invalid_key, access_denied, storage_unavailable (also when `body` errors)
   */
  async write(key: string, body: Readable, options: { contentType?: string } = {}): Promise<ObjectInfo> {
    const file = this.file(key);
    const contentType = options.contentType ?? 'application/octet-stream';
    try {
      // No chunkSize: one streamed request, so nothing is buffered; an aborted request never publishes.
      await pipeline(
        body,
        file.createWriteStream({ resumable: true, contentType, metadata: { contentType } }),
      );
    } catch (e) {
      throw wrap(e, key, this.url);
    }
    return this.info(file.metadata);
  }

  /**
   * A server-side rewrite (objects.rewrite): no bytes pass through the process, and GCS publishes the
   * destination only when the rewrite is done. The client repeats the call while GCS answers with a
   * rewrite token (large objects across locations or storage classes).
   * @throws object_not_found (`from` missing), invalid_key, access_denied, storage_unavailable
   */
  async copy(from: string, to: string, options: { contentType?: string } = {}): Promise<ObjectInfo> {
    const source = this.file(from);
    const target = this.file(to);
    let response: unknown;
    try {
      // Fields in the request body override the source's metadata; without them the copy keeps its own.
      [, response] = await source.copy(
        target,
        options.contentType ? { contentType: options.contentType } : {},
      );
    } catch (e) {
      throw wrap(e, from, this.url);
    }
    const resource = (response as { resource?: FileMetadata } | undefined)?.resource;
    if (resource) return this.info(resource);
    const info = await this.stat(to);
    if (!info)
      throw new AppError('storage_unavailable', `object '${to}' missing right after its copy in ${this.url}`);
    return info;
  }

  /** Size and time of the object, or null. @throws invalid_key, access_denied, storage_unavailable */
  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const [metadata] = await this.file(key).getMetadata();
      return this.info(metadata);
    } catch (e) {
      if (status(e) === 404) return null;
      throw wrap(e, key, this.url);
    }
  }

  /** Objects whose key starts with `prefix`, page by page. @throws invalid_key, access_denied, storage_unavailable */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    normalizeKey(prefix, { allowPrefix: true });
    let query: GetFilesOptions | null = {
      prefix: joinKey(this.prefix, prefix),
      autoPaginate: false,
      ...(this.pageSize ? { maxResults: this.pageSize } : {}),
    };
    while (query) {
      let files: File[];
      try {
        let next: unknown;
        [files, next] = await this.bucket.getFiles(query);
        // Without autoPaginate the second element is the query for the next page, or null.
        query = (next as GetFilesOptions | null) ?? null;
      } catch (e) {
        throw wrap(e, prefix, this.url);
      }
      for (const file of files) yield this.info(file.metadata);
    }
  }

  /** Removes the object if it exists. @throws invalid_key, access_denied, storage_unavailable */
  async delete(key: string): Promise<void> {
    await this.file(key)
      .delete({ ignoreNotFound: true })
      .catch((e) => {
        throw wrap(e, key, this.url);
      });
  }

  /** Reads the bucket's metadata (storage.buckets.get). @throws storage_unavailable (also a missing bucket), access_denied */
  async check(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`)),
        CHECK_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([this.bucket.getMetadata(), timeout]);
    } catch (e) {
      if (status(e) === 404) {
        throw new AppError('storage_unavailable', `bucket of ${this.url} does not exist`, { cause: e });
      }
      throw wrap(e, '', this.url);
    } finally {
      clearTimeout(timer);
    }
  }

  private info(metadata: FileMetadata): ObjectInfo {
    const name = metadata.name ?? '';
    return {
      key: this.prefix ? name.slice(this.prefix.length + 1) : name,
      size: Number(metadata.size ?? 0),
      updatedAt: new Date(metadata.updated ?? metadata.timeCreated ?? Date.now()),
    };
  }
}

function status(e: unknown): number | undefined {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

function wrap(e: unknown, key: string, url: string): AppError {
  if (e instanceof AppError) return e;
  const message = (e as Error)?.message ?? String(e);
  const code = status(e);
  if (code === 404)
    return new AppError('object_not_found', `object '${key}' not found in ${url}`, { cause: e });
  if (code === 401 || code === 403 || /default credentials/i.test(message)) {
    return new AppError('access_denied', `no permission for '${key}' in ${url}: ${message}`, { cause: e });
  }
  return new AppError('storage_unavailable', `storage error for '${key}' in ${url}: ${message}`, {
    cause: e,
  });
}
