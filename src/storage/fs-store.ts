import { randomUUID } from 'node:crypto';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../errors.js';
import { normalizeKey } from './keys.js';
import type { ObjectInfo, ObjectStore } from './types.js';

const TEMP_MARK = '.dataport-tmp-';

/**
 * A local folder as the bucket. Writes and copies go to a temporary file in the same folder, then
 * rename(2).
 */
export class FsStore implements ObjectStore {
  readonly url: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.url = `file:${root}`;
  }

  private file(key: string): string {
    return path.join(this.root, ...normalizeKey(key).split('/'));
  }

  async read(key: string): Promise<Readable> {
    const file = this.file(key);
    const info = await this.statFile(file, key);
    if (!info || info.isDirectory())
      throw new AppError('object_not_found', `object '${key}' not found in ${this.url}`);
    return createReadStream(file);
  }

  async write(key: string, body: Readable): Promise<ObjectInfo> {
    return this.publish(key, (temp) => pipeline(body, createWriteStream(temp, { flags: 'wx' })));
  }

  /** copyFile(2) into a temporary file, then rename: the kernel copies (or clones), no JS buffers. */
  async copy(from: string, to: string): Promise<ObjectInfo> {
    const source = this.file(from);
    // Refuse a bad destination before the source is looked at, like every other method.
    normalizeKey(to);
    const info = await this.statFile(source, from);
    if (!info || info.isDirectory())
      throw new AppError('object_not_found', `object '${from}' not found in ${this.url}`);
    // FICLONE makes a copy-on-write clone where the file system can (btrfs, XFS) and copies otherwise.
    return this.publish(to, (temp) =>
      copyFile(source, temp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE),
    );
  }

  /** Lets `fill` create a temporary file beside the object's file, then renames it into place. */
  private async publish(key: string, fill: (temp: string) => Promise<void>): Promise<ObjectInfo> {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true }).catch((e) => {
      throw wrap(e, key);
    });
    const temp = path.join(path.dirname(file), `${TEMP_MARK}${randomUUID()}`);
    try {
      await fill(temp);
      await rename(temp, file);
    } catch (e) {
      await rm(temp, { force: true });
      throw wrap(e, key);
    }
    return (await this.stat(key))!;
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const info = await this.statFile(this.file(key), key);
    if (!info || info.isDirectory()) return null;
    return { key, size: info.size, updatedAt: info.mtime };
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    normalizeKey(prefix, { allowPrefix: true });
    // Walk only the folder the prefix names, then filter on the full prefix.
    const dirKey = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    yield* this.walk(dirKey, prefix);
  }

  private async *walk(dirKey: string, prefix: string): AsyncIterable<ObjectInfo> {
    const dir = dirKey ? path.join(this.root, ...dirKey.split('/')) : this.root;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR')
        return;
      throw wrap(e, dirKey);
    }
    for (const entry of entries) {
      const key = dirKey ? `${dirKey}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.walk(key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix) && !entry.name.startsWith(TEMP_MARK)) {
        const info = await this.stat(key);
        if (info) yield info;
      }
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true }).catch((e) => {
      throw wrap(e, key);
    });
  }

  /**
   * Removes temporary files that killed writers left behind: all of them, or with `olderThanMs` only
   * those untouched that long (a live writer may own a newer one). Answers how many.
   */
  async sweepTemp(olderThanMs = 0, dir = this.root): Promise<number> {
    let removed = 0;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) removed += await this.sweepTemp(olderThanMs, file);
      else if (entry.isFile() && entry.name.startsWith(TEMP_MARK)) {
        const info = await stat(file).catch(() => null);
        if (info && Date.now() - info.mtimeMs >= olderThanMs) {
          await rm(file, { force: true });
          removed++;
        }
      }
    }
    return removed;
  }

  async check(): Promise<void> {
    await mkdir(this.root, { recursive: true }).catch((e) => {
      throw wrap(e, '');
    });
  }

  private async statFile(file: string, key: string) {
    try {
      return await stat(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw wrap(e, key);
    }
  }
}

function wrap(e: unknown, key: string): AppError {
  if (e instanceof AppError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM')
    return new AppError('access_denied', `no permission for '${key}'`, { cause: e });
  return new AppError('storage_unavailable', `storage error for '${key}': ${(e as Error).message}`, {
    cause: e,
  });
}
