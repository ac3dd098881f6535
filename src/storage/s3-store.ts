import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AppError } from '../errors.js';
import { guard, normalizePrefix } from './cloud.js';
import { joinKey, normalizeKey } from './keys.js';
import type { ObjectInfo, ObjectStore } from './types.js';

export interface S3StoreOptions {
  bucket: string;
  /** Prepended to every key; '' or omitted for the bucket root. */
  prefix?: string;
  /** Another S3-compatible endpoint (MinIO, R2, an emulator); switches to path-style addressing. */
  endpoint?: string;
  region?: string;
  /** A ready client (tests hand in one bound to s3rver); overrides endpoint and region. */
  client?: S3Client;
  /** Keys per list request; small values exercise paging in tests. */
  pageSize?: number;
  /** The largest object `copy` sends through CopyObject; small values exercise the fallback in tests. */
  copyLimit?: number;
}

/** S3 copies at most 5 GiB in one CopyObject request. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;

/**
 * The client the store builds from options. Credentials come from the AWS default provider chain
 * unless `credentials` is given.
 */
export function createS3Client(options: {
  endpoint?: string;
  region?: string;
  credentials?: S3ClientConfig['credentials'];
}): S3Client {
  const { endpoint, region, credentials } = options;
  return new S3Client({
    // Without a region the SDK's chain (AWS_REGION, profile) decides; S3-compatible servers ignore it.
    region: region ?? (endpoint ? 'us-east-1' : undefined),
    followRegionRedirects: true,
    ...(credentials ? { credentials } : {}),
    ...(endpoint
      ? {
          endpoint,
          forcePathStyle: true,
          // Many S3-compatible servers mishandle the SDK's default aws-chunked checksums (s3rver stores them in the object).
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : {}),
  });
}

/**
 * Amazon S3 and compatible services. Writes go through a multipart Upload (parts of 5 MiB, a few in
 * flight), so a large object is never held in memory; S3 publishes it only on
 * CompleteMultipartUpload, and a failed body aborts the upload, leaving the previous object.
 */
export class S3Store implements ObjectStore {
  readonly url: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly pageSize?: number;
  private readonly copyLimit: number;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix);
    this.client = options.client ?? createS3Client(options);
    this.pageSize = options.pageSize;
    this.copyLimit = options.copyLimit ?? MAX_COPY_BYTES;
    this.url = `s3://${options.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
  }

  private name(key: string): string {
    return joinKey(this.prefix, normalizeKey(key));
  }

  /** Streams the object. @throws object_not_found, access_denied, storage_unavailable */
  async read(key: string): Promise<Readable> {
    const Key = this.name(key);
    try {
      const result = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      return guard(result.Body as Readable, (e) => this.wrap(e, key));
    } catch (e) {
      throw this.wrap(e, key);
    }
  }

  /**
   * Streams `body` through a multipart upload; aborted (old object kept) when `body` errors.
   * @throws invalid_key, access_denied, storage_unavailable (also when `body` errors)
   */
  async write(key: string, body: Readable, options: { contentType?: string } = {}): Promise<ObjectInfo> {
    const Key = this.name(key);
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key,
        Body: body,
        ContentType: options.contentType ?? 'application/octet-stream',
      },
      leavePartsOnError: false,
    });
    // Report the body's own error, not a follow-up one (e.g. a refused AbortMultipartUpload).
    let bodyError: unknown;
    body.once('error', (e) => (bodyError = e));
    try {
      await upload.done();
    } catch (e) {
      throw this.wrap(bodyError ?? e, key);
    }
    const info = await this.stat(key);
    if (!info)
      throw new AppError(
        'storage_unavailable',
        `object '${key}' missing right after its upload to ${this.url}`,
      );
    return info;
  }

  /**
   * CopyObject, done inside S3 and published whole when it completes. The source is asked for first:
   * a missing one is reported as such, and one larger than S3's single-request copy limit (5 GiB) is
   * streamed through `read` and `write` instead, since CopyObject refuses it.
   * @throws object_not_found (`from` missing), invalid_key, access_denied, storage_unavailable
   */
  async copy(from: string, to: string, options: { contentType?: string } = {}): Promise<ObjectInfo> {
    const source = this.name(from);
    const Key = this.name(to);
    const head = await this.client
      .send(new HeadObjectCommand({ Bucket: this.bucket, Key: source }))
      .catch((e) => {
        throw this.wrap(e, from);
      });
    const contentType = options.contentType ?? head.ContentType;
    if ((head.ContentLength ?? 0) > this.copyLimit) {
      // CopyObject refuses such a source. UploadPartCopy could copy it inside S3 in parts; this rare case
      // takes the simpler path instead, through the streamed multipart upload `write` already does.
      return this.write(to, await this.read(from), { contentType });
    }
    // S3 refuses to copy an object onto itself unless its metadata is replaced.
    const replace = options.contentType !== undefined || source === Key;
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key,
          // The source is 'bucket/key', URL-encoded segment by segment.
          CopySource: `${this.bucket}/${source.split('/').map(encodeURIComponent).join('/')}`,
          ...(replace ? { MetadataDirective: 'REPLACE' as const, ContentType: contentType } : {}),
        }),
      );
    } catch (e) {
      throw this.wrap(e, from);
    }
    const info = await this.stat(to);
    if (!info)
      throw new AppError('storage_unavailable', `object '${to}' missing right after its copy in ${this.url}`);
    return info;
  }

  /** Size and time of the object, or null. @throws invalid_key, access_denied, storage_unavailable */
  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.name(key) }),
      );
      return { key, size: head.ContentLength ?? 0, updatedAt: head.LastModified ?? new Date() };
    } catch (e) {
      const error = this.wrap(e, key);
      if (error.code === 'object_not_found') return null;
      throw error;
    }
  }

  /** Objects whose key starts with `prefix`, page by page. @throws invalid_key, access_denied, storage_unavailable */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    normalizeKey(prefix, { allowPrefix: true });
    const Prefix = joinKey(this.prefix, prefix);
    const skip = this.prefix ? this.prefix.length + 1 : 0;
    let ContinuationToken: string | undefined;
    do {
      const command = new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix,
        ContinuationToken,
        MaxKeys: this.pageSize,
      });
      const page = await this.client.send(command).catch((e) => {
        throw this.wrap(e, prefix);
      });
      for (const object of page.Contents ?? []) {
        yield {
          key: object.Key!.slice(skip),
          size: object.Size ?? 0,
          updatedAt: object.LastModified ?? new Date(),
        };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  /** Removes the object; S3 treats a missing one as success. @throws invalid_key, access_denied, storage_unavailable */
  async delete(key: string): Promise<void> {
    await this.client
      .send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.name(key) }))
      .catch((e) => {
        throw this.wrap(e, key);
      });
  }

  /** HeadBucket (needs s3:ListBucket). @throws storage_unavailable (also a missing bucket), access_denied */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), {
        abortSignal: AbortSignal.timeout(10_000),
      });
    } catch (e) {
      if (httpStatus(e) === 404 || (e as Error).name === 'NoSuchBucket') {
        throw new AppError('storage_unavailable', `bucket of ${this.url} does not exist`, { cause: e });
      }
      throw this.wrap(e, '');
    }
  }

  private wrap(e: unknown, key: string): AppError {
    if (e instanceof AppError) return e;
    const name = (e as Error)?.name ?? '';
    const message = (e as Error)?.message || name || String(e);
    const status = httpStatus(e);
    if (name === 'NoSuchBucket') {
      return new AppError('storage_unavailable', `bucket of ${this.url} does not exist`, { cause: e });
    }
    if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
      return new AppError('object_not_found', `object '${key}' not found in ${this.url}`, { cause: e });
    }
    if (status === 401 || status === 403 || DENIED.has(name)) {
      return new AppError('access_denied', `no permission for '${key}' in ${this.url}: ${message}`, {
        cause: e,
      });
    }
    return new AppError('storage_unavailable', `storage error for '${key}' in ${this.url}: ${message}`, {
      cause: e,
    });
  }
}

const DENIED = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'CredentialsProviderError',
  'ExpiredToken',
]);

function httpStatus(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}
