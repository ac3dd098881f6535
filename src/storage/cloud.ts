import { Readable } from 'node:stream';
import type { AppError } from '../errors.js';
import { normalizeKey } from './keys.js';

// Helpers shared by the cloud stores (GCS, S3); the folder and memory stores need neither.

/** Validates a bucket prefix once; a trailing '/' is dropped. @throws invalid_key */
export function normalizePrefix(prefix = ''): string {
  const trimmed = prefix.replace(/\/+$/, '');
  return trimmed ? normalizeKey(trimmed) : '';
}

/**
 * Re-emits the stream's data, turning its errors into AppErrors: an SDK stream that fails mid-read
 * (a dropped connection, a checksum mismatch) must still reach the caller with one of our codes.
 */
export function guard(source: Readable, wrapError: (e: unknown) => AppError): Readable {
  async function* copy() {
    try {
      for await (const chunk of source) yield chunk as Buffer;
    } catch (e) {
      throw wrapError(e);
    }
  }
  return Readable.from(copy(), { objectMode: false });
}
