import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { defaultCatalogue } from '../src/tables/catalogue.js';

const demoCatalogue = defaultCatalogue();
import type { Reason } from '../src/tables/validate.js';

/**
 * Deterministic sample and benchmark data for the demo tables. Every file is streamed (the benchmark
 * writes millions of rows), and every bad row breaks exactly one rule, so the counts reported here are
 * the counts a correct loader must report.
 */

/** The data rules a bad row can break, in the order bad employee rows cycle through them. */
export const rejectReasons = [
  'missing_value',
  'invalid_integer',
  'too_long',
  'invalid_datetime',
  'unknown_reference',
  'duplicate_id',
  'wrong_field_count',
] as const satisfies readonly Reason[];
export type RejectReason = (typeof rejectReasons)[number];

export const sampleTables = ['departments', 'jobs', 'hired_employees'] as const;
export type SampleTable = (typeof sampleTables)[number];

export interface TableCounts {
  /** Data lines written (the files have no header). */
  rows: number;
  good: number;
  bad: Record<RejectReason, number>;
}

export interface SampleReport {
  files: Record<SampleTable, string>;
  counts: Record<SampleTable, TableCounts>;
}

export interface SampleOptions {
  /** Storage root; files go to `{out}/database/{table}/historic/{table}.csv`. Default `storage`. */
  out?: string;
  /** Data lines in hired_employees.csv, good and bad. Default 2000. */
  employees?: number;
  /**
   * Fraction of employee lines that are bad, spread evenly over the reasons (the benchmark uses 0.01).
   * Default: `badPerReason` of each reason.
   */
  badRate?: number;
  /** Bad employee lines per reason when `badRate` is not given. Default 3. */
  badPerReason?: number;
  /** Write only valid rows in every file (the baseline bulk tools load clean files). */
  clean?: boolean;
  seed?: number;
}

export const defaultSeed = 20210101;
export const defaultEmployees = 2000;

// One of them is lower-case on purpose: engines sort it first or last depending on the collation.
export const departmentNames = [
  'Supply Chain',
  'Maintenance',
  'Staff',
  'Business Development',
  'Sales',
  'Engineering',
  'Human Resources',
  'Legal',
  'Marketing',
  'Product Management',
  'Research and Development',
  'accounting',
];
// Relative hiring weights, so that some departments are above the mean and some below.
const departmentWeights = [14, 6, 9, 7, 16, 13, 4, 3, 8, 5, 10, 5];

const jobBases = list(`
  Accountant, Data Analyst, Software Engineer, Sales Representative, Account Executive,
  Financial Analyst, Business Analyst, Project Manager, Product Designer, QA Engineer, Recruiter,
  HR Generalist, Legal Counsel, Paralegal, Marketing Specialist, Content Writer,
  Maintenance Technician, Electrician, Logistics Coordinator, Buyer, Warehouse Supervisor,
  Office Manager, Executive Assistant, Research Scientist, Lab Technician, Systems Administrator,
  Database Administrator, Network Engineer, Support Engineer, Customer Success Manager,
  Payroll Specialist, Tax Analyst, Auditor, Controller, Graphic Designer, Web Developer,
  Security Analyst, Operations Manager, Procurement Officer, Training Coordinator, Brand Manager,
  Statistician, Technical Writer, Facilities Manager, Compliance Officer
`);
const jobVariants: ((base: string) => string)[] = [
  (b) => b,
  (b) => `Senior ${b}`,
  (b) => `Junior ${b}`,
  (b) => `Lead ${b}`,
  (b) => `${b} I`,
  (b) => `${b} II`,
  (b) => `${b} III`,
  (b) => `${b} IV`,
];
export const jobCount = 183;

const firstNames = list(`
  James, Mary, Robert, Patricia, John, Jennifer, Michael, Linda, David, Elizabeth, William, Barbara,
  Richard, Susan, Joseph, Jessica, Thomas, Sarah, Charles, Karen, Daniel, Nancy, Matthew, Lisa,
  Anthony, Betty, Mark, Margaret, Donald, Sandra, José, María, Zoë, Łukasz, Søren, Chloé, Renée,
  François, Björn, Ana Sofía, Siobhán, Jürgen, Małgorzata, Nguyễn, Amélie, Ícaro, Dmitrii, Aoife,
  Raúl, Élodie, D'Andre, Mei, Hiroshi, Priya, Aarav, Fatima, Omar, Kwame, Ngozi, Mateo
`);
const lastNames = list(`
  Smith, Johnson, Williams, Brown, Jones, Garcia, Miller, Davis, Rodriguez, Martinez, Hernandez,
  Lopez, Gonzalez, Wilson, Anderson, Thomas, Taylor, Moore, Jackson, Martin, O'Brien, O'Connor,
  D'Angelo, O'Neill, McDonald, van der Berg, de la Cruz, Müller, Nowak, Kowalczyk, Brontë, Åkesson,
  Núñez, Peña, Sánchez, Gómez, Ødegaard, Dvořák, Šimunović, Yılmaz, Tanaka, Kim, Nakamura, Chen,
  Patel, Okafor, Mensah, Haddad, Ivanova, Kuznetsov, Fitzgerald, Smith-Jones, Lefèvre, Côté, Björk,
  Lindqvist
`);
const nicknames = ['Bobby', 'Liz', 'Mac', 'Jimbo', 'Ace', 'Doc'];
const suffixes = ['Jr.', 'Sr.', 'III', 'PhD'];

/** A comma-separated word list (kept as text so the formatter does not give each word a line). */
function list(text: string): string[] {
  return text
    .split(',')
    .map((w) => w.trim())
    .filter((w) => w !== '');
}

/** mulberry32: tiny, fast, and the same sequence on every platform. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where the loader looks for a table's historic file under a storage root. */
export function historicPath(out: string, table: string): string {
  return join(out, 'database', table, 'historic', `${table}.csv`);
}

/** The job titles of jobs 1..183, the same on every run. */
export function jobTitles(seed = defaultSeed): string[] {
  const rand = mulberry32(seed ^ 0x5eed);
  const all = jobBases.flatMap((b) => jobVariants.map((v) => v(b)));
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, jobCount);
}

function noBad(): Record<RejectReason, number> {
  return Object.fromEntries(rejectReasons.map((r) => [r, 0])) as Record<RejectReason, number>;
}

/** What `generateSampleData` writes for these options, without writing anything. */
export function sampleCounts(options: SampleOptions = {}): Record<SampleTable, TableCounts> {
  const clean = options.clean ?? false;
  const lookup = (rows: number, bad: Partial<Record<RejectReason, number>>): TableCounts => {
    const all = { ...noBad(), ...(clean ? {} : bad) };
    const badTotal = Object.values(all).reduce((a, b) => a + b, 0);
    return { rows: rows + badTotal, good: rows, bad: all };
  };
  return {
    departments: lookup(departmentNames.length, { missing_value: 1, duplicate_id: 1 }),
    jobs: lookup(jobCount, { invalid_integer: 1, duplicate_id: 1 }),
    hired_employees: employeeCounts(options),
  };
}

function employeeBadTotal(options: SampleOptions): number {
  const n = options.employees ?? defaultEmployees;
  if (options.clean || n < 2) return 0;
  const wanted =
    options.badRate !== undefined
      ? Math.round(n * options.badRate)
      : (options.badPerReason ?? 3) * rejectReasons.length;
  // Line 0 is always good, so that a duplicate always has an earlier good id to repeat.
  return Math.max(0, Math.min(wanted, n - 1));
}

function employeeCounts(options: SampleOptions): TableCounts {
  const n = options.employees ?? defaultEmployees;
  const total = employeeBadTotal(options);
  const bad = noBad();
  for (let k = 0; k < total; k++) bad[rejectReasons[k % rejectReasons.length]]++;
  return { rows: n, good: n - total, bad };
}

/** Writes departments, jobs and hired_employees under `out` and returns what it wrote. */
export async function generateSampleData(options: SampleOptions = {}): Promise<SampleReport> {
  const out = options.out ?? 'storage';
  const seed = options.seed ?? defaultSeed;
  const files = Object.fromEntries(sampleTables.map((t) => [t, historicPath(out, t)])) as Record<
    SampleTable,
    string
  >;
  await writeCsv(files.departments, departmentRows(options.clean ?? false));
  await writeCsv(files.jobs, jobRows(seed, options.clean ?? false));
  const employees = await writeEmployees(files.hired_employees, options);
  return { files, counts: { ...sampleCounts(options), hired_employees: employees } };
}

/** Writes only valid employee rows (for the bulk tools the benchmark compares against). */
export async function writeCleanEmployees(path: string, n: number, seed = defaultSeed): Promise<TableCounts> {
  return writeEmployees(path, { employees: n, clean: true, seed });
}

/** Writes hired_employees lines to `path`; bad lines are spread over the file at random positions. */
export async function writeEmployees(path: string, options: SampleOptions = {}): Promise<TableCounts> {
  const counts = employeeCounts(options);
  await writeCsv(path, employeeRows(options, counts.rows - counts.good));
  return counts;
}

function* departmentRows(clean: boolean): Generator<string[]> {
  for (const [i, name] of departmentNames.entries()) {
    yield [String(i + 1), name];
    if (clean) continue;
    if (i === 4) yield ['5', 'Customer Service']; // duplicate_id: id 5 is 'Sales'
    if (i === 8) yield ['13', '']; // missing_value
  }
}

function* jobRows(seed: number, clean: boolean): Generator<string[]> {
  for (const [i, title] of jobTitles(seed).entries()) {
    yield [String(i + 1), title];
    if (clean) continue;
    if (i === 40) yield ['41', 'Chief Happiness Officer']; // duplicate_id
    if (i === 120) yield ['12a', 'Scrum Master']; // invalid_integer
  }
}

const departmentCumulative = cumulative(departmentWeights);
const yearStart = Date.UTC(2021, 0, 1);
const yearsSpan = Date.UTC(2023, 0, 1) - yearStart;

function* employeeRows(options: SampleOptions, badTotal: number): Generator<string[]> {
  const n = options.employees ?? defaultEmployees;
  const rand = mulberry32(options.seed ?? defaultSeed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];
  let need = badTotal;
  let k = 0;
  let lastGoodId = 1;
  for (let i = 0; i < n; i++) {
    const id = i + 1;
    const row = [
      String(id),
      fullName(rand, pick),
      isoSeconds(yearStart + Math.floor((rand() * yearsSpan) / 1000) * 1000),
      String(weighted(rand(), departmentCumulative) + 1),
      String(1 + Math.floor(rand() ** 1.5 * jobCount)),
    ];
    // Selection sampling (Knuth's algorithm S) over lines 1..n-1: exactly `badTotal` bad lines.
    if (i > 0 && need > 0 && rand() * (n - i) < need) {
      need--;
      yield spoil(row, rejectReasons[k++ % rejectReasons.length], lastGoodId, rand, pick);
    } else {
      lastGoodId = id;
      yield row;
    }
  }
}

// Each case breaks exactly one rule and leaves every other field valid.
function spoil(
  row: string[],
  reason: RejectReason,
  lastGoodId: number,
  rand: () => number,
  pick: <T>(list: readonly T[]) => T,
): string[] {
  const r = [...row];
  switch (reason) {
    case 'missing_value':
      r[Math.floor(rand() * r.length)] = '';
      return r;
    case 'invalid_integer':
      r[pick([0, 3, 4])] = pick(['abc', '1.5', '12a']);
      return r;
    case 'too_long': {
      let name = 'Hubert Blaine';
      while (name.length <= 200)
        name += ` ${pick(['Wolfeschlegelsteinhausenbergerdorff', 'Maximilian', 'Augustus'])}`;
      r[1] = name;
      return r;
    }
    case 'invalid_datetime':
      r[2] = pick([
        r[2].slice(0, 19),
        r[2].replace('T', ' ').slice(0, 19),
        '2021-02-30T10:00:00Z',
        '2022-13-01T00:00:00Z',
      ]);
      return r;
    case 'unknown_reference':
      r[pick([3, 4])] = '999';
      return r;
    case 'duplicate_id':
      r[0] = String(lastGoodId);
      return r;
    case 'wrong_field_count':
      return rand() < 0.5 ? r.slice(0, 4) : [...r, 'extra'];
  }
}

function fullName(rand: () => number, pick: <T>(list: readonly T[]) => T): string {
  const first = pick(firstNames);
  const last = pick(lastNames);
  const x = rand();
  if (x < 0.02) return `${first} "${pick(nicknames)}" ${last}`; // quotes in a field
  if (x < 0.05) return `${last}, ${first}`; // a comma in a field
  if (x < 0.07) return `${first} ${last}, ${pick(suffixes)}`;
  return `${first} ${last}`;
}

function isoSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

function cumulative(weights: number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  let sum = 0;
  return weights.map((w) => (sum += w) / total);
}

function weighted(x: number, cum: number[]): number {
  const i = cum.findIndex((c) => x < c);
  return i === -1 ? cum.length - 1 : i;
}

/** Streams rows through csv-stringify (RFC 4180 quoting) into a file, with backpressure. */
async function writeCsv(path: string, rows: Iterable<string[]>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await pipeline(Readable.from(rows), stringify({ record_delimiter: 'unix' }), createWriteStream(path));
}

// The generator writes the columns in catalogue order; fail loudly if the catalogue changes under it.
const expectedColumns: Record<SampleTable, string[]> = {
  departments: ['id', 'department'],
  jobs: ['id', 'job'],
  hired_employees: ['id', 'name', 'datetime', 'department_id', 'job_id'],
};
for (const table of sampleTables) {
  const actual = demoCatalogue.tables.find((t) => t.name === table)?.columns.map((c) => c.name);
  if (actual?.join() !== expectedColumns[table].join()) {
    throw new Error(`sample-data: ${table} columns changed in the catalogue (${actual?.join()})`);
  }
}
