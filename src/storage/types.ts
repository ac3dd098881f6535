import type { Readable } from 'node:stream';

export interface ObjectInfo {
  key: string;
  size: number;
  updatedAt: Date;
}

/**
 * The object-storage contract every backend implements (folder, memory, GCS, S3).
 * Keys are relative, '/'-separated and normalised by `normalizeKey` before they reach a backend.
 * Every method throws AppError: invalid_key, object_not_found, access_denied or storage_unavailable
 * (with the SDK's own error as `cause`).
 */
export interface ObjectStore {
  /** A human-readable location for logs and reject sources, e.g. `gs://bucket/prefix`. */
  readonly url: string;
  /** Streams the object. @throws object_not_found when it does not exist. */
  read(key: string): Promise<Readable>;
  /**
   * Streams `body` into the object and publishes it atomically: readers see the previous object or
   * the complete new one, never a part. If `body` errors, the previous object is left untouched.
   */
  write(key: string, body: Readable, options?: { contentType?: string }): Promise<ObjectInfo>;
  /**
   * Copies the object at `from` to `to` in this store, inside the backend where it can (no bytes
   * through the process), and publishes it atomically like `write`. The copy keeps the source's
   * content type unless `contentType` is given. @throws object_not_found when `from` does not exist
   * (`to` is then left as it was)
   */
  copy(from: string, to: string, options?: { contentType?: string }): Promise<ObjectInfo>;
  /** Size and time of the object, or null when it does not exist. */
  stat(key: string): Promise<ObjectInfo | null>;
  /** Every object whose key starts with `prefix`, in no particular order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Removes the object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Resolves when the bucket is reachable with our credentials. @throws storage_unavailable, access_denied */
  check(): Promise<void>;
}
