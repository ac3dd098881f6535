import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon, { type Result } from 'autocannon';
import {
  DummyDriver,
  Kysely,
  MysqlAdapter,
  MysqlIntrospector,
  MysqlQueryCompiler,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import { mysqlCaps } from '../src/db/mysql.js';
import { postgresCaps } from '../src/db/postgres.js';
import { sqliteCaps } from '../src/db/sqlite.js';
import { departmentsAboveMean, hiresByQuarter } from '../src/modules/metrics/metrics.repo.js';
import type { Side } from './baselines.js';

export interface ChildResult {
  ms: number;
  rssMB: number;
  result: unknown;
}

// Compiled dist/ in plain Node, as production runs it (see bench/child.mjs).
export const NODE_FLAGS = ['--max-semi-space-size=8']; // the flag of the Dockerfile and start:prod
const CHILD = [...NODE_FLAGS, 'bench/child.mjs'];

/**
 * The bench's own copy of the compiled tree (dist/ and the catalogues beside it, as DEMO_CATALOGUE finds
 * them), taken right after `npm run build`: others working in the same tree rebuild dist/ (the build
 * deletes it first), and a run of half an hour must not lose its code halfway or change it between
 * engines. Inside bench/, so that node_modules resolves as it does for dist/.
 */
export const BUILD = resolve('bench/.build');
export function snapshotDist(): string {
  rmSync(BUILD, { recursive: true, force: true });
  mkdirSync(BUILD, { recursive: true });
  cpSync('dist', join(BUILD, 'dist'), { recursive: true });
  cpSync('catalogues', join(BUILD, 'catalogues'), { recursive: true });
  return join(BUILD, 'dist');
}

function start(op: string, env: Record<string, string>, table?: string) {
  // BENCH_PROF=dir writes a CPU profile of every dataport operation there (node --cpu-prof).
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [];
  return spawn(process.execPath, [...prof, ...CHILD, op, ...(table ? [table] : [])], {
    env: { BENCH_DIST: join(BUILD, 'dist'), ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
}

/** Runs one dataport operation on `table` (hired_employees) in a child process; answers its time and peak RSS. */
export function child(op: string, env: Record<string, string>, table?: string): Promise<ChildResult> {
  const proc = start(op, env, table);
  proc.stdin.end();
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  return new Promise((resolve, reject) =>
    proc.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last));
      else
        reject(new Error(`bench child ${op}${table ? ` ${table}` : ''} exited ${code}: ${out.slice(-500)}`));
    }),
  );
}

/** dataport's HTTP server in a child process; stop() answers its peak RSS. */
export async function serve(env: Record<string, string>) {
  const proc = start('serve', env);
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('bench server exited before listening');
  const { port } = JSON.parse(first.value) as { port: number };
  return {
    port,
    async stop(): Promise<ChildResult> {
      proc.stdin.end();
      const last = await lines.next();
      if (last.done) throw new Error('bench server exited without a report');
      return JSON.parse(last.value);
    },
  };
}

/** 20 sequential calls after one warm-up; answers each call's ms. */
export async function httpMetrics(port: number, path: string): Promise<number[]> {
  const call = async () => {
    const started = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body.slice(0, 300)}`);
    return performance.now() - started;
  };
  await call();
  const times: number[] = [];
  for (let i = 0; i < 20; i++) times.push(await call());
  return times;
}

/**
 * Every body once, over 4 connections with autocannon; answers the wall time in ms, from the start to
 * the last response. (autocannon ends a run on its one-second sampling tick, so the time until its
 * callback would round every run up to a whole second.)
 */
export async function inserts(port: number, bodies: string[]): Promise<number> {
  let next = 0;
  let last = 0;
  const started = performance.now();
  const result = await new Promise<Result>((resolve, reject) => {
    const tracker = autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: 4,
        amount: bodies.length,
        timeout: 120,
        requests: [
          {
            method: 'POST',
            path: '/load_data_from_payload/hired_employees',
            headers: { 'content-type': 'application/json' },
            setupRequest: (request: Record<string, unknown>) => ({
              ...request,
              body: bodies[next++ % bodies.length],
            }),
          },
        ],
      },
      (err, done) => (err ? reject(err) : resolve(done)),
    );
    tracker.on('response', () => (last = performance.now()));
  });
  if (result['2xx'] !== bodies.length || result.errors || result.timeouts) {
    throw new Error(
      `payload inserts: ${result['2xx']} of ${bodies.length} answered 2xx (${result.non2xx} non-2xx, ${result.errors} errors)`,
    );
  }
  return last - started;
}

/** The SQL the two metrics endpoints run (as Kysely compiles it for this engine), parameters inlined. */
export async function metricsSql(side: Side): Promise<{ quarter: string; above: string }> {
  const parts = {
    mariadb: [MysqlAdapter, MysqlIntrospector, MysqlQueryCompiler, mysqlCaps],
    postgres: [PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, postgresCaps],
    sqlite: [SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, sqliteCaps],
  } as const;
  const [Adapter, Introspector, Compiler, caps] = parts[side.engine];
  const seen: string[] = [];
  const db = new Kysely<any>({
    dialect: {
      createAdapter: () => new Adapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (k) => new Introspector(k),
      createQueryCompiler: () => new Compiler(),
    },
    log: (event) => void seen.push(side.inline(event.query.sql, event.query.parameters)),
  });
  await hiresByQuarter(db, caps, 2021);
  // With no rows the second query of departmentsAboveMean would run and fail; only the first counts.
  await departmentsAboveMean(db, caps, 2021).catch(() => undefined);
  return { quarter: seen[0], above: seen[1] };
}
