import type { EngineName } from './dataset.js';

/** One line of the table: every run's time for dataport and for the baseline. */
export interface Measure {
  op: string;
  engine: EngineName;
  rows: number;
  dp: number[];
  base: number[];
  /** dataport's peak RSS (MB) per run, where dataport ran in a child process of its own. */
  rss: number[];
  /** Largest ratio (dataport ÷ baseline time) the target allows; undefined: no target. */
  target?: number;
  /** Also required: dataport's median under this many seconds. */
  underSeconds?: number;
  /** Also required: dataport's median peak RSS (fresh process) under this many MB. */
  maxRssMB?: number;
  note?: string;
}

export interface MemoryLine {
  engine: EngineName;
  op: string;
  rss1: number;
  rss5: number;
  rows5: number;
}

export const median = (xs: number[]) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const seconds = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(ms < 1000 ? 3 : 2) : '—');
const thousands = (n: number) => (Number.isFinite(n) ? `${Math.round(n / 1000)}k` : '—');

export function verdict(m: Measure): string {
  if (m.target === undefined) return '—';
  const dp = median(m.dp);
  const ratio = dp / median(m.base);
  const ok =
    ratio <= m.target &&
    (m.underSeconds === undefined || dp / 1000 < m.underSeconds) &&
    (m.maxRssMB === undefined || median(m.rss) < m.maxRssMB);
  return ok ? 'met' : 'MISSED';
}

function targetText(m: Measure): string {
  if (m.target === undefined) return '—';
  let t = `≤ ${m.target.toFixed(2)}`;
  if (m.underSeconds !== undefined) t += ` and < ${m.underSeconds} s`;
  if (m.maxRssMB !== undefined) t += `, RSS < ${m.maxRssMB} MB`;
  return t;
}

/** The table, as Markdown (it reads as plain text too). */
export function table(measures: Measure[]): string {
  const head =
    '| operation | engine | dataport s | baseline s | ratio (dataport ÷ baseline, lower is better) | dataport rows/s | dataport peak RSS MB | target ratio | |\n' +
    '|---|---|---:|---:|---:|---:|---:|---|---|';
  const lines = measures.map((m) => {
    const dp = median(m.dp);
    const base = median(m.base);
    const rss = m.rss.length ? String(Math.round(median(m.rss))) : '—';
    const name = m.note ? `${m.op} (${m.note})` : m.op;
    return `| ${name} | ${m.engine} | ${seconds(dp)} | ${seconds(base)} | ${(dp / base).toFixed(2)} | ${thousands((m.rows / dp) * 1000)} | ${rss} | ${targetText(m)} | ${verdict(m)} |`;
  });
  return [head, ...lines].join('\n');
}

export function memoryTable(lines: MemoryLine[]): string {
  const head =
    '| engine | operation | peak RSS MB at 1x | peak RSS MB at 5x (rows) | 5x ÷ 1x | target: < 200 MB and ≤ 1.15 | |\n' +
    '|---|---|---:|---:|---:|---|---|';
  const body = lines.map((l) => {
    const ratio = l.rss5 / l.rss1;
    const ok = l.rss5 < 200 && ratio <= 1.15;
    return `| ${l.engine} | ${l.op} | ${l.rss1} | ${l.rss5} (${thousands(l.rows5)}) | ${ratio.toFixed(2)} | < 200 and ≤ 1.15 | ${ok ? 'met' : 'MISSED'} |`;
  });
  return [head, ...body].join('\n');
}

/** Extra facts that are not timings: the sizes of backup files and dumps. */
export function sizes(
  lines: { engine: EngineName; what: string; bytes: number; dumpBytes: number }[],
): string {
  const head = '| engine | file | bytes | dump bytes | dump ÷ file |\n|---|---|---:|---:|---:|';
  const body = lines.map(
    (l) =>
      `| ${l.engine} | ${l.what} | ${(l.bytes / 1e6).toFixed(1)} MB | ${(l.dumpBytes / 1e6).toFixed(1)} MB | ${(l.dumpBytes / l.bytes).toFixed(2)} |`,
  );
  return [head, ...body].join('\n');
}

export interface ServerLine {
  engine: EngineName;
  mode: 'dist' | 'tsx';
  /** Per run: the server's peak RSS after each step, and over the whole sequence. */
  steps: { op: string; ms: number; peakMB: number }[][];
  peakMB: number[];
  treeMB: number[];
  /** Median peak RSS of the same operations, each in a fresh process (the table above). */
  fresh: { load?: number; backup?: number; restore?: number };
}

/** Memory across operations: one running server, load + backup + restore, peak RSS read from /proc. */
export function serverTable(lines: ServerLine[], targetMB = 200): string {
  const head =
    `| engine | server | peak RSS MB after load / backup / restore (median) | server peak RSS MB | process tree MB | fresh-process peaks load / backup / restore MB | target: server < ${targetMB} MB | |\n` +
    '|---|---|---:|---:|---:|---:|---|---|';
  const body = lines.map((l) => {
    const at = (op: string) => {
      const xs = l.steps.map((run) => run.find((s) => s.op === op)?.peakMB ?? NaN);
      return Math.round(median(xs));
    };
    const peak = Math.round(median(l.peakMB));
    const fresh = [l.fresh.load, l.fresh.backup, l.fresh.restore].map((x) =>
      x === undefined ? '—' : Math.round(x),
    );
    const target = l.mode === 'dist' ? `< ${targetMB}` : '— (informative)';
    const ok = l.mode === 'dist' ? (peak < targetMB ? 'met' : 'MISSED') : '—';
    return `| ${l.engine} | ${l.mode === 'dist' ? 'node dist/server.js (start:prod)' : 'npm start (tsx)'} | ${at('load hired_employees')} / ${at('backup hired_employees')} / ${at('restore hired_employees')} | ${peak} | ${Math.round(median(l.treeMB))} | ${fresh.join(' / ')} | ${target} | ${ok} |`;
  });
  return [head, ...body].join('\n');
}
