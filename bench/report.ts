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
  const ok = ratio <= m.target && (m.underSeconds === undefined || dp / 1000 < m.underSeconds);
  return ok ? 'met' : 'MISSED';
}

function targetText(m: Measure): string {
  if (m.target === undefined) return '—';
  let t = `≤ ${m.target.toFixed(2)}`;
  if (m.underSeconds !== undefined) t += ` and < ${m.underSeconds} s`;
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
