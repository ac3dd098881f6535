import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fromDbRow } from '../../src/db/rows.js';
import type { Row } from '../../src/tables/types.js';
import { allRows, auth, countRows, createTestApp, type TestApp } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';

const FIXTURE = path.resolve('test/backups/fixtures/restore-child.ts');
const ROWS = 200_000;

/** Runs the restore in a child process and SIGKILLs its whole process group at its first progress line. */
function restoreAndKill(databaseUrl: string, bucket: string, table: string) {
  // detached: the child leads a process group, so the kill reaches npx, tsx and the node they start.
  const child = spawn('npx', ['tsx', FIXTURE, databaseUrl, bucket, table], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    process.kill(-child.pid!, 'SIGKILL');
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (/^progress \d+$/m.test(stdout)) kill();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(kill, 120_000);
  return new Promise<{ signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve({ signal, stdout, stderr });
    });
  });
}

describe.each(testEngines())('a restore killed part-way on $name', (engine) => {
  let t: TestApp;
  afterEach(async () => t?.close());

  it('leaves the table exactly as it was, and a new restore succeeds', { timeout: 240_000 }, async () => {
    t = await createTestApp(engine);
    const jobs = t.ctx.catalogue.get('jobs');
    const write = async (rows: (i: number) => Row, n: number) =>
      t.ctx.engine.bulkJob(async (job) => {
        const writer = await job.writer(jobs, 'replace');
        for (let i = 0; i < n; i += 5000) {
          await writer.write(Array.from({ length: Math.min(5000, n - i) }, (_, k) => rows(i + k + 1)));
        }
        return writer.finish();
      });
    await write((id) => ({ id, job: `backed up job ${id}` }), ROWS);
    const backup = await t.app.inject({ method: 'POST', url: '/backup_table/jobs', headers: auth });
    expect(backup.statusCode, backup.body).toBe(200);
    expect(backup.json().rows).toBe(ROWS);

    // The rows the killed restore must leave in place: other ids, other values.
    await write((id) => ({ id: id * 7, job: `old job ${id}` }), 100);
    const old = (await allRows(t, 'jobs')).map((r) => fromDbRow(jobs, t.ctx.engine.caps, r));

    const run = await restoreAndKill(t.config.databaseUrl, t.bucket, 'jobs');
    expect(run.stdout, run.stderr).toMatch(/^progress \d+$/m);
    expect(run.stdout).not.toContain('done');
    expect(run.signal).toBe('SIGKILL');

    expect((await allRows(t, 'jobs')).map((r) => fromDbRow(jobs, t.ctx.engine.caps, r))).toEqual(old);

    const again = await t.app.inject({ method: 'POST', url: '/restore_backup/jobs', headers: auth });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json().rows_restored).toBe(ROWS);
    expect(await countRows(t, 'jobs')).toBe(ROWS);
  });
});
