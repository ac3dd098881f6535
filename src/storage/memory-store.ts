import { Readable } from 'node:stream';
import { AppError } from '../errors.js';
import { normalizeKey } from './keys.js';
import type { ObjectInfo, ObjectStore } from './types.js';

/** An in-process bucket for tests. Objects are buffered whole: not for large data. */
export class MemoryStore implements ObjectStore {
  readonly url = 'memory:';
  private readonly objects = new Map<string, { data: Buffer; updatedAt: Date }>();

  async read(key: string): Promise<Readable> {
    const object = this.objects.get(normalizeKey(key));
    if (!object) throw new AppError('object_not_found', `object '${key}' not found in ${this.url}`);
    return Readable.from([object.data]);
  }

  async write(key: string, body: Readable): Promise<ObjectInfo> {
    normalizeKey(key);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of body) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    } catch (e) {
      throw new AppError('storage_unavailable', `write of '${key}' failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const object = { data: Buffer.concat(chunks), updatedAt: new Date() };
    this.objects.set(key, object);
    return { key, size: object.data.length, updatedAt: object.updatedAt };
  }

  async copy(from: string, to: string): Promise<ObjectInfo> {
    const source = this.objects.get(normalizeKey(from));
    const target = normalizeKey(to);
    if (!source) throw new AppError('object_not_found', `object '${from}' not found in ${this.url}`);
    const object = { data: Buffer.from(source.data), updatedAt: new Date() };
    this.objects.set(target, object);
    return { key: to, size: object.data.length, updatedAt: object.updatedAt };
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const object = this.objects.get(normalizeKey(key));
    return object ? { key, size: object.data.length, updatedAt: object.updatedAt } : null;
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    normalizeKey(prefix, { allowPrefix: true });
    for (const [key, object] of [...this.objects]) {
      if (key.startsWith(prefix)) yield { key, size: object.data.length, updatedAt: object.updatedAt };
    }
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(normalizeKey(key));
  }

  async check(): Promise<void> {}
}
