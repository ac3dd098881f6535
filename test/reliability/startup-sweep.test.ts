import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Context } from '../../src/context.js';
import { startRun } from '../../src/modules/runs/runs.repo.js';
import { closeContext, openContext } from '../../src/open.js';
import { testEngines } from '../helpers/engines.js';

/**
 * The start-up sweep (src/open.ts) after a killed process: runs left 'running' become 'interrupted',
 * staging tables are dropped and the folder store's temporary files removed, but only while no other
 * dataport instance is connected to the database (it may own them); a temporary file nobody has
 * written to for an hour is removed regardless.
 */
describe.each(testEngines())('start-up clean-up on $name', (engine) => {
  const open: Context[] = [];
  let drop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    for (const ctx of open.splice(0)) await closeContext(ctx);
    await drop?.();
  });

  it('cleans up what a dead process left, and leaves alone what a live instance may own', async () => {
    const database = await engine.create();
    drop = database.drop;
    const bucket = mkdtempSync(path.join(tmpdir(), 'dataport-sweep-'));
    const config = loadConfig({
      DATABASE_URL: database.url,
      STORAGE_URL: `file:${bucket}`,
      LOG_LEVEL: 'silent',
    });
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const swept = () => lines.filter((l) => l.msg === 'start-up clean-up').at(-1);
    const start = async (sweep: boolean) => {
      const ctx = await openContext(config, { log, sweep });
      open.push(ctx);
      return ctx;
    };

    // What a killed process leaves behind.
    const first = await start(false);
    await startRun(first.engine.db, { id: 'dead-run', table: 'jobs', kind: 'historic', source: 'x' });
    const server = engine.name !== 'sqlite';
    if (server) await sql`CREATE TABLE dataport_stage_0123456789ab (id integer)`.execute(first.engine.db);
    const folder = path.join(bucket, 'database/jobs/backup');
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, '.dataport-tmp-fresh'), 'half');
    await writeFile(path.join(folder, '.dataport-tmp-stale'), 'half');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(path.join(folder, '.dataport-tmp-stale'), twoHoursAgo, twoHoursAgo);
    await writeFile(path.join(folder, 'jobs.avro'), 'a real object');

    const status = async (ctx: Context) =>
      (
        await ctx.engine.db
          .selectFrom('dataport_loads')
          .select('status')
          .where('id', '=', 'dead-run')
          .executeTakeFirstOrThrow()
      ).status;
    const stages = async (ctx: Context) =>
      (
        await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql.raw(
          engine.name === 'mariadb'
            ? 'information_schema.TABLES'
            : engine.name === 'postgres'
              ? 'pg_tables'
              : 'sqlite_master',
        )} WHERE ${sql.raw(engine.name === 'mariadb' ? 'TABLE_NAME' : engine.name === 'postgres' ? 'tablename' : 'name')} = 'dataport_stage_0123456789ab'`.execute(
          ctx.engine.db,
        )
      ).rows[0].n;

    // A second instance starts while the first is still connected.
    const second = await start(true);
    const files = await readdir(folder);
    expect(files).not.toContain('.dataport-tmp-stale');
    expect(files).toContain('jobs.avro');
    if (server) {
      expect(swept()).toMatchObject({ alone: false, interrupted_runs: 0 });
      expect(await status(second)).toBe('running');
      expect(Number(await stages(second))).toBe(1);
      expect(files).toContain('.dataport-tmp-fresh');
    } else {
      // A SQLite file serves one process: the sweep always runs.
      expect(await status(second)).toBe('interrupted');
    }

    // Once it is the only instance, a restart sweeps everything.
    for (const ctx of open.splice(0)) await closeContext(ctx);
    await new Promise((r) => setTimeout(r, 300));
    const third = await start(true);
    expect(swept()).toMatchObject({ alone: true });
    expect(await status(third)).toBe('interrupted');
    if (server) expect(Number(await stages(third))).toBe(0);
    expect(await readdir(folder)).toEqual(['jobs.avro']);
  });
});
