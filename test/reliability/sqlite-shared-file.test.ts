import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { auth, createTestApp, putHistoric } from '../helpers/app.js';
import { testEngines } from '../helpers/engines.js';
import { jobsCsv } from './helpers.js';

/**
 * The service on its SQLite file while other processes write to the same file: a plain SQLite client
 * committing one-row transactions in a loop, and the CLI loading another table. Writers take turns;
 * a batch never fails because another process committed between its reads and its writes.
 */
const BATCHES = 300;
const ROWS = 10;
const WORKERS = 4;
/** Ids of the other process's rows: far from the batches' 1..310. */
const OTHER_FIRST_ID = 1_000_000;
const JOBS = 100_000;
const BIN = path.resolve('bin/dataport.js');
const CHILD = path.resolve('test/reliability/sqlite-writer-child.ts');

interface Answer {
  batch: number;
  ids: number[];
  status: number;
  body: any;
  retryAfter: unknown;
}

/** Batch i: ten consecutive ids in a window that overlaps other batches' (ids 1..310). */
function batchIds(i: number): number[] {
  const first = ((i * 7) % 61) * 5 + 1;
  return Array.from({ length: ROWS }, (_, k) => first + k);
}
const label = (i: number, id: number) => `batch ${i} id ${id}`;

function runCli(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, 'load', 'jobs', '--json'],
      { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: 40_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

const sqlite = testEngines().find((e) => e.name === 'sqlite');

describe('two processes on one SQLite file', () => {
  if (!sqlite) it.skip('needs sqlite in TEST_ENGINES', () => undefined);
  else
    it(
      'batches answer 200 or 503 database_busy, never 500, while another process writes',
      { timeout: 60_000 },
      async () => {
        const t = await createTestApp(sqlite);
        const file = t.config.databaseUrl.slice('sqlite:'.length);
        await putHistoric(t, 'jobs', jobsCsv(1, JOBS, 'cli'));
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', CHILD, file, String(OTHER_FIRST_ID), '30000'],
          {
            stdio: ['pipe', 'pipe', 'inherit'],
          },
        );
        try {
          const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
          expect((await lines.next()).value).toBe('ready');

          // The CLI loads jobs again and again while the batches run (at most 4 times).
          let batchesDone = false;
          const env = {
            DATABASE_URL: t.config.databaseUrl,
            STORAGE_URL: `file:${t.bucket}`,
            LOG_LEVEL: 'silent',
          };
          const cliRuns = (async () => {
            const runs: { code: number; stdout: string; stderr: string; endedDuringBatches: boolean }[] = [];
            while (!batchesDone && runs.length < 4)
              runs.push({ ...(await runCli(env)), endedDuringBatches: !batchesDone });
            return runs;
          })();

          const answers: Answer[] = [];
          let next = 0;
          const worker = async () => {
            for (let i = next++; i < BATCHES; i = next++) {
              const ids = batchIds(i);
              const csv = i % 2 === 1;
              const response = await t.app.inject({
                method: 'POST',
                url: '/load_data_from_payload/departments',
                headers: { ...auth, 'content-type': csv ? 'text/csv' : 'application/json' },
                payload: csv
                  ? ids.map((id) => `${id},${label(i, id)}`).join('\n')
                  : JSON.stringify(ids.map((id) => ({ id, department: label(i, id) }))),
              });
              answers.push({
                batch: i,
                ids,
                status: response.statusCode,
                body: response.json(),
                retryAfter: response.headers['retry-after'],
              });
              // Paced so that the batches span several CLI runs (each starts a Node process).
              await sleep(80);
            }
          };
          await Promise.all(Array.from({ length: WORKERS }, worker));
          batchesDone = true;
          const runs = await cliRuns;
          child.stdin!.end();
          const other = JSON.parse((await lines.next()).value as string) as {
            committed: number[];
            errors: Record<string, number>;
          };
          const [code] = await once(child, 'exit');
          expect(code).toBe(0);

          // Every answer is 200 or 503 database_busy with Retry-After; never 500.
          const bad = answers.filter((a) => a.status !== 200 && a.status !== 503);
          expect(bad.map((a) => ({ status: a.status, body: a.body }))).toEqual([]);
          for (const a of answers.filter((a) => a.status === 503)) {
            expect(a.body.error.code).toBe('database_busy');
            expect(a.retryAfter).toBeDefined();
          }
          const ok = answers.filter((a) => a.status === 200);
          expect(answers).toHaveLength(BATCHES);
          expect(ok.length).toBeGreaterThan(BATCHES / 2);

          // An id an answer reports inserted is stored once, with that batch's text; no other id is stored.
          const insertedBy = new Map<number, number>();
          const rejectedIds = new Map<string, number[]>();
          for (const a of ok) {
            expect(a.body.received).toBe(ROWS);
            expect(a.body.inserted + a.body.rejected).toBe(ROWS);
            const refused = new Set<number>();
            for (const r of a.body.rejects) {
              expect(r.reason).toBe('duplicate_id');
              refused.add(a.ids[r.index]);
            }
            rejectedIds.set(
              a.body.load_id,
              [...refused].sort((x, y) => x - y),
            );
            const inserted = a.ids.filter((id) => !refused.has(id));
            expect(inserted).toHaveLength(a.body.inserted);
            for (const id of inserted) {
              expect(insertedBy.get(id), `id ${id} reported inserted twice`).toBeUndefined();
              insertedBy.set(id, a.batch);
            }
          }
          const stored = await t.ctx.engine.db
            .selectFrom('departments')
            .select(['id', 'department'])
            .where('id', '<', OTHER_FIRST_ID)
            .orderBy('id')
            .execute();
          expect(stored.map((r) => r.id)).toEqual([...insertedBy.keys()].sort((x, y) => x - y));
          for (const r of stored) expect(r.department).toBe(label(insertedBy.get(r.id)!, r.id));

          // The rest of each answered batch is in the reject log, under its load id.
          const logged = await t.ctx.engine.db
            .selectFrom('dataport_rejects')
            .select(['load_id', 'row_index', 'reason', 'source'])
            .where('table_name', '=', 'departments')
            .execute();
          const loggedIds = new Map<string, number[]>();
          const batchOf = new Map(ok.map((a) => [a.body.load_id as string, a]));
          for (const r of logged) {
            const a = batchOf.get(r.load_id);
            expect(a, `a logged reject of load ${r.load_id}, which no 200 answer reported`).toBeDefined();
            expect(r.reason).toBe('duplicate_id');
            expect(r.source).toBe('payload');
            loggedIds.set(r.load_id, [...(loggedIds.get(r.load_id) ?? []), a!.ids[Number(r.row_index)]]);
          }
          for (const [loadId, ids] of rejectedIds)
            expect(
              (loggedIds.get(loadId) ?? []).sort((x, y) => x - y),
              loadId,
            ).toEqual(ids);

          // The other process committed all along, and every one of its rows is there.
          expect(other.errors).toEqual({});
          expect(other.committed.length).toBeGreaterThan(100);
          const [{ n }] = await t.ctx.engine.db
            .selectFrom('departments')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('id', '>=', OTHER_FIRST_ID)
            .execute();
          expect(Number(n)).toBe(other.committed.length);

          // The CLI loaded jobs while batches ran, every time in full.
          expect(runs.length).toBeGreaterThan(0);
          expect(runs[0].endedDuringBatches).toBe(true);
          for (const run of runs) {
            expect(run.code, run.stderr).toBe(0);
            expect(JSON.parse(run.stdout)).toMatchObject({
              table: 'jobs',
              rows_read: JOBS,
              loaded: JOBS,
              rejected: 0,
            });
          }
          const [{ jobs }] = await t.ctx.engine.db
            .selectFrom('jobs')
            .select((eb) => eb.fn.countAll().as('jobs'))
            .execute();
          expect(Number(jobs)).toBe(JOBS);
        } finally {
          if (child.exitCode === null) child.kill();
          await t.close();
        }
      },
    );
});
