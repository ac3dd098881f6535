import { AppError } from '../errors.js';

const MAX_KEY_LENGTH = 1024;

/**
 * Normalises an object key once, before any backend sees it: '/'-separated, relative, no empty,
 * '.' or '..' segments, no backslashes or control characters. Anything else is refused rather than
 * repaired, so a key can never escape the bucket or prefix.
 * @throws AppError invalid_key
 */
export function normalizeKey(key: string, { allowPrefix = false } = {}): string {
  const bad = (why: string) =>
    new AppError('invalid_key', `invalid storage key '${key.slice(0, 100)}': ${why}`);
  if (typeof key !== 'string' || key.length === 0) {
    if (allowPrefix && key === '') return '';
    throw bad('empty');
  }
  if (key.length > MAX_KEY_LENGTH) throw bad(`longer than ${MAX_KEY_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(key)) throw bad('control characters and backslashes are not allowed');
  if (key.startsWith('/')) throw bad('absolute keys are not allowed');
  const body = allowPrefix && key.endsWith('/') ? key.slice(0, -1) : key;
  for (const segment of body.split('/')) {
    if (segment === '') throw bad('empty path segment');
    if (segment === '.' || segment === '..') throw bad("'.' and '..' segments are not allowed");
  }
  return key;
}

/** Joins a backend prefix (already normalised, may be '') and a normalised key. */
export function joinKey(prefix: string, key: string): string {
  if (!prefix) return key;
  return prefix.endsWith('/') ? prefix + key : `${prefix}/${key}`;
}

/** The keys the service uses, in one place. */
export const keys = {
  historic: (table: string) => `database/${table}/historic/${table}.csv`,
  backup: (table: string) => `database/${table}/backup/${table}.avro`,
  backupHistory: (table: string, stamp: string) => `database/${table}/backup/${table}-${stamp}.avro`,
  backupPrefix: (table: string) => `database/${table}/backup/`,
  /** The sha256 beside a backup (sha256sum's format), which restores verify before they commit. */
  checksum: (backupKey: string) => `${backupKey}.sha256`,
};
