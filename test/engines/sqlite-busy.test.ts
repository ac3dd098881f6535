import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/db/engine.js';
import { createEngine } from '../../src/db/index.js';
import { createMigrator, migrateToLatest } from '../../src/db/migrator.js';
import { defaultCatalogue } from '../../src/tables/catalogue.js';

const catalogue = defaultCatalogue();

/** A migrated SQLite file, its engine, and a second plain connection to the same file (another process's). */
async function sharedFile() {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'dataport-busy-')), 'shared.sqlite');
  const engine = await createEngine(`sqlite:${file}`);
  await migrateToLatest(createMigrator(engine, catalogue));
  const other = new Database(file);
  // Never wait: a lock held by the engine shows at once as SQLITE_BUSY (and blocks no event loop).
  other.pragma('busy_timeout = 0');
  return { file, engine, other };
}

describe('SQLite classify()', () => {
  let engine: Engine | undefined;
  let other: Database.Database | undefined;
  afterEach(async () => {
    other?.close();
    await engine?.close();
    engine = other = undefined;
  });

  it('maps the plain and every extended busy/locked code to busy, by prefix', async () => {
    ({ engine } = await sharedFile());
    const kind = (code: string) => engine!.classify(new Database.SqliteError(`error ${code}`, code));
    for (const code of [
      'SQLITE_BUSY',
      'SQLITE_BUSY_SNAPSHOT',
      'SQLITE_BUSY_RECOVERY',
      'SQLITE_BUSY_TIMEOUT',
      'SQLITE_LOCKED',
      'SQLITE_LOCKED_SHAREDCACHE',
      'SQLITE_LOCKED_VTAB',
    ])
      expect(kind(code), code).toBe('busy');
    expect(kind('SQLITE_CONSTRAINT_PRIMARYKEY')).toBe('unique_violation');
    expect(kind('SQLITE_CONSTRAINT_UNIQUE')).toBe('unique_violation');
    expect(kind('SQLITE_IOERR_SHORT_READ')).toBe('unavailable');
    expect(kind('SQLITE_CANTOPEN')).toBe('unavailable');
    // Unrelated codes, and names that only start like a busy code, are none of ours.
    for (const code of [
      'SQLITE_CONSTRAINT_FOREIGNKEY',
      'SQLITE_ERROR',
      'SQLITE_BUSYNESS',
      'SQLITE_LOCKEDX',
      'EBUSY',
    ])
      expect(kind(code), code).toBeNull();
    expect(engine.classify(new Error('no code'))).toBeNull();
    expect(engine.classify(undefined)).toBeNull();
  });

  it('classifies the real SQLITE_BUSY_SNAPSHOT of a deferred read-then-write as busy', async () => {
    let file: string;
    ({ engine, other, file } = await sharedFile());
    // A deferred transaction reads (its snapshot), another connection commits, then it tries to write.
    const reader = new Database(file);
    try {
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM departments').get();
      other.prepare('INSERT INTO departments (id, department) VALUES (1, ?)').run('first');
      let error: unknown;
      try {
        reader.prepare('INSERT INTO departments (id, department) VALUES (2, ?)').run('second');
      } catch (e) {
        error = e;
      }
      expect((error as { code?: string })?.code).toBe('SQLITE_BUSY_SNAPSHOT');
      expect(engine.classify(error)).toBe('busy');
      reader.exec('ROLLBACK');
    } finally {
      reader.close();
    }
  });

  it('a batch transaction holds the write lock from its BEGIN, before its first read', async () => {
    ({ engine, other } = await sharedFile());
    const write = () => other!.prepare('INSERT INTO departments (id, department) VALUES (?, ?)');
    const seen = await engine.batchTransaction(async (tx) => {
      // Before the batch reads or writes anything, another connection can no longer write ...
      let busy: unknown;
      try {
        write().run(100, 'meanwhile');
      } catch (e) {
        busy = e;
      }
      expect((busy as { code?: string })?.code).toBe('SQLITE_BUSY');
      // ... so the batch's lookup and insert see the file as it was at BEGIN, and commit.
      const [ids] = await tx.existingKeys([
        { table: catalogue.get('departments'), columns: ['id'], keys: [[1], [100]] },
      ]);
      const taken = await tx.insert(catalogue.get('departments'), [{ id: 1, department: 'Sales' }]);
      return { ids: [...ids], taken };
    });
    expect(seen).toEqual({ ids: [], taken: [] });
    // Once it committed, the other connection writes again.
    write().run(100, 'after');
    const rows = await engine.db.selectFrom('departments').select('id').orderBy('id').execute();
    expect(rows.map((r) => r.id)).toEqual([1, 100]);
  });

  it('Kysely transactions on the main connection begin IMMEDIATE too', async () => {
    ({ engine, other } = await sharedFile());
    await engine.db.transaction().execute(async () => {
      expect(() => other!.prepare('INSERT INTO jobs (id, job) VALUES (1, ?)').run('x')).toThrow(
        expect.objectContaining({ code: 'SQLITE_BUSY' }),
      );
    });
  });

  it('a start with nothing to migrate does not wait for another writer (the migrations take the write lock)', async () => {
    ({ engine, other } = await sharedFile());
    other.exec('BEGIN IMMEDIATE');
    try {
      const started = Date.now();
      const result = await migrateToLatest(createMigrator(engine, catalogue));
      expect(result.applied).toEqual([]);
      expect(result.current).not.toBeNull();
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      other.exec('ROLLBACK');
    }
  });
});
