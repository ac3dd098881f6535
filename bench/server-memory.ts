import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { BUILD, NODE_FLAGS } from './child-runner.js';

/**
 * Memory across operations (issue 16): one running server loads departments, jobs and the 1M
 * hired_employees rows, backs hired_employees up and restores it, one request after the other, and its
 * peak RSS is read from outside the process: the kernel's high-water mark (VmHWM in /proc/PID/status),
 * which no sampling interval can miss.
 *
 * - `dist`: `node --max-semi-space-size=8 dist/server.js`, what `npm run start:prod` and the container
 *   run (the bench's copy of dist/, see snapshotDist).
 * - `tsx`: `npm start` (tsx src/server.ts) on the working tree's sources. npm, its shell and tsx's own
 *   process sit above the server; the server is the process of the tree with the largest peak, and the
 *   whole tree's sampled total is reported beside it.
 */
export type ServerMode = 'dist' | 'tsx';

export interface ServerStep {
  op: string;
  ms: number;
  /** The server's peak RSS so far (VmHWM), MB, once the step has answered. */
  peakMB: number;
}

export interface ServerMemory {
  mode: ServerMode;
  steps: ServerStep[];
  /** The server process's peak RSS over the whole sequence, MB. */
  peakMB: number;
  /** Largest sampled sum of VmRSS over the process tree (npm, sh, tsx and the server), MB. */
  treeMB: number;
}

const STEPS: [string, string][] = [
  ['load departments', '/load_historic_data/departments'],
  ['load jobs', '/load_historic_data/jobs'],
  ['load hired_employees', '/load_historic_data/hired_employees'],
  ['backup hired_employees', '/backup_table/hired_employees'],
  ['restore hired_employees', '/restore_backup/hired_employees'],
];

export async function serverMemory(mode: ServerMode, env: Record<string, string>): Promise<ServerMemory> {
  const port = await freePort();
  const serverEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...env,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    MIGRATE_ON_START: 'true',
  };
  delete serverEnv.API_TOKEN;
  const [command, args] =
    mode === 'dist'
      ? [process.execPath, [...NODE_FLAGS, join(BUILD, 'dist', 'server.js')]]
      : ['npm', ['start', '--silent']];
  // A process group of its own, so that stopping it reaches npm's children too.
  const proc = spawn(command, args, { env: serverEnv, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const watch = watchTree(proc.pid!);
  try {
    await ready(port, exited, () => stderr);
    const steps: ServerStep[] = [];
    for (const [op, path] of STEPS) {
      const started = performance.now();
      const { status, body } = await post(port, path);
      if (status !== 200)
        throw new Error(`${mode} server: POST ${path} answered ${status}: ${body.slice(0, 500)}`);
      steps.push({ op, ms: performance.now() - started, peakMB: watch.sample().serverMB });
    }
    const last = watch.sample();
    return { mode, steps, peakMB: last.serverMB, treeMB: last.treeMB };
  } finally {
    watch.stop();
    await stop(proc, exited);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function ready(port: number, exited: Promise<number | null>, stderr: () => string) {
  let gone = false;
  void exited.then(() => (gone = true));
  const until = Date.now() + 180_000;
  while (Date.now() < until) {
    if (gone) throw new Error(`server exited before it listened: ${stderr()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server did not answer /healthz within 180 s: ${stderr()}`);
}

/** A POST without a body and without a client-side timeout (a 1M-row load takes tens of seconds). */
function post(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function stop(proc: ChildProcess, exited: Promise<number | null>) {
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, signal);
    } catch {
      // already gone
    }
  };
  group('SIGTERM');
  const timer = setTimeout(() => group('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

/** VmHWM and VmRSS (kB) of a process, or undefined once it is gone. */
function status(pid: number): { hwm: number; rss: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return undefined;
  }
}

/** The process and its descendants, from /proc's parent links. */
function tree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

/** Samples the tree every 250 ms; each process's own high-water mark is exact whatever the interval. */
function watchTree(root: number) {
  const hwm = new Map<number, number>();
  let treeKB = 0;
  const sample = () => {
    let sum = 0;
    for (const pid of tree(root)) {
      const s = status(pid);
      if (!s) continue;
      hwm.set(pid, Math.max(hwm.get(pid) ?? 0, s.hwm));
      sum += s.rss;
    }
    treeKB = Math.max(treeKB, sum);
    return { serverMB: Math.round(Math.max(0, ...hwm.values()) / 1024), treeMB: Math.round(treeKB / 1024) };
  };
  const timer = setInterval(sample, 250);
  return { sample, stop: () => clearInterval(timer) };
}
