import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import { loadCatalogue } from '../src/tables/catalogue.js';
import type { TableDef } from '../src/tables/types.js';

/**
 * The wide table of issue 16 (bench/wide.yaml): 12 columns, one of each type, six of them nullable
 * (~30 % NULL each), under a bigint key past 2^53. Rows come from a seeded generator, so every size is
 * the same file on every machine, and they are written as they are made (bounded memory at any size).
 * Every row is valid: dataport and the engines' own loaders read the same file and keep every row.
 */
export const WIDE_CATALOGUE = resolve('bench/wide.yaml');
export const WIDE_TABLE = 'wide';

export function wideTable(): TableDef {
  return loadCatalogue(WIDE_CATALOGUE).get(WIDE_TABLE);
}

export interface WideDataset {
  rows: number;
  /** STORAGE_URL=file:… root holding database/wide/historic/wide.csv. */
  storage: string;
  /** The same file, for the engines' loaders. */
  csv: string;
  bytes: number;
  /** Share of NULLs over the six nullable columns, as written. */
  nullShare: number;
}

export async function makeWideDataset(dir: string, rows: number): Promise<WideDataset> {
  const storage = join(dir, 'storage');
  const csv = join(storage, 'database', WIDE_TABLE, 'historic', `${WIDE_TABLE}.csv`);
  const marker = join(dir, 'report.json');
  if (!existsSync(marker)) {
    await mkdir(dirname(csv), { recursive: true });
    const report = await writeWideCsv(`${csv}.part`, rows);
    await rename(`${csv}.part`, csv);
    await writeFile(marker, JSON.stringify(report));
  }
  const report = JSON.parse(await readFile(marker, 'utf8')) as {
    bytes: number;
    nulls: number;
    nullable: number;
  };
  return { rows, storage, csv, bytes: report.bytes, nullShare: report.nulls / report.nullable };
}

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'alpha',
  'Bravo',
  'charlie',
  'delta',
  'Écho',
  'foxtrot',
  'golf',
  'hôtel',
  'India',
  'juliett',
  'kilo',
  'Lima',
  'mike',
  'november',
  'oscar',
  'papa',
  'Québec',
  'romeo',
  'sierra',
  'tango',
  'uniform',
  'victor',
  'whiskey',
  'x-ray',
  'yankee',
  'zulu',
  'Straße',
  'naïve',
  'smörgåsbord',
  '東京',
  'Ωmega',
  "O'Brien",
];
// Punctuation a CSV must quote or a loader must keep: commas, quotes, a line break, a backslash, a tab.
const ODD = [', ', '"', '""', '\n', '\\', '\t', '; ', ' – ', ' 🙂 '];

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** A CSV field: quoted when it holds the delimiter, a quote or a line break. */
function field(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Writes `rows` data lines (no header); answers the bytes written and the NULLs among the nullable fields. */
export async function writeWideCsv(file: string, rows: number, seed = 16) {
  const rnd = random(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const nul = () => rnd() < 0.3;
  const words = (maxChars: number, odd: boolean) => {
    let s = WORDS[int(WORDS.length)];
    const target = 1 + int(maxChars);
    while (s.length < target)
      s += (odd && rnd() < 0.15 ? ODD[int(ODD.length)] : ' ') + WORDS[int(WORDS.length)];
    // Trimmed and within the limit (code points), as dataport keeps a value.
    let cut = [...s].slice(0, maxChars).join('').trim();
    if (cut === '') cut = 'x';
    return cut;
  };
  const datetime = (from: number, years: number) => {
    const ms = Date.UTC(from, 0, 1) + Math.floor(rnd() * years * 365.25 * 86_400_000);
    return new Date(ms).toISOString();
  };
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  let bytes = 0;
  let nulls = 0;
  const n = () => (nul() ? (nulls++, true) : false);
  let chunk: string[] = [];
  for (let r = 1; r <= rows; r++) {
    const id = `46116860${pad(r, 11)}`; // 4.6e18: past 2^53, below 2^63
    const i = (rnd() * 4294967296 - 2147483648) | 0;
    const b = n() ? '' : `${rnd() < 0.5 ? '-' : ''}${1 + int(9223372035)}${pad(int(1e9), 9)}`;
    const whole = int(1e10);
    const cents = int(100);
    const d = `${(whole || cents) && rnd() < 0.3 ? '-' : ''}${whole}.${pad(cents, 2)}`;
    let dn = '';
    if (!n()) {
      const w = int(1e5) * 1e9 + int(1e9);
      const frac = int(1e4);
      dn = `${(w || frac) && rnd() < 0.5 ? '-' : ''}${w}.${pad(frac, 4)}`;
    }
    const f = n() ? '' : String((rnd() - 0.5) * 10 ** (int(13) - 3));
    const t = rnd() < 0.5 ? '1' : '0';
    const s = field(words(40, false));
    const x = n() ? '' : field(words(rnd() < 0.05 ? 2000 : 120, true));
    const day = n() ? '' : `${1900 + int(200)}-${pad(1 + int(12), 2)}-${pad(1 + int(28), 2)}`;
    const at = datetime(2000, 30);
    const atn = n() ? '' : datetime(1990, 40);
    chunk.push(`${id},${i},${b},${d},${dn},${f},${t},${s},${x},${day},${at},${atn}\n`);
    if (chunk.length === 5000 || r === rows) {
      const text = chunk.join('');
      chunk = [];
      bytes += Buffer.byteLength(text);
      if (!out.write(text)) await once(out, 'drain');
    }
  }
  out.end();
  await once(out, 'close');
  return { bytes, nulls, nullable: rows * 6 };
}

/**
 * MariaDB's `LOAD DATA` column list for the wide file: an empty field is NULL in dataport's file, which
 * LOAD DATA reads as '' (0 in a number column) unless told; datetimes lose the 'T' and 'Z', as dataport
 * converts them in Node.
 */
export function mariadbWideColumns(table: TableDef): string {
  const list: string[] = [];
  const set: string[] = [];
  for (const c of table.columns) {
    const q = `\`${c.name}\``;
    const plain = !c.nullable && c.type !== 'datetime';
    if (plain) {
      list.push(q);
      continue;
    }
    list.push(`@${c.name}`);
    const v = c.type === 'datetime' ? `REPLACE(LEFT(@${c.name}, 23), 'T', ' ')` : `@${c.name}`;
    set.push(`${q} = ${c.nullable ? `IF(@${c.name} = '', NULL, ${v})` : v}`);
  }
  return `(${list.join(', ')}) SET ${set.join(', ')}`;
}
