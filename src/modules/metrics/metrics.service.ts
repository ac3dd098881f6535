import { stringify } from 'csv-stringify/sync';
import type { Context } from '../../context.js';
import type { Catalogue } from '../../tables/catalogue.js';
import { AppError } from '../../errors.js';
import {
  departmentsAboveMean as aboveMeanQuery,
  hiresByQuarter,
  type DepartmentHires,
  type QuarterRow,
} from './metrics.repo.js';

export const MIN_YEAR = 1900;
export const MAX_YEAR = 2100;

export interface HiredByQuarter {
  year: number;
  rows: QuarterRow[];
}

export interface DepartmentsAboveMean {
  year: number;
  /** The mean hires per department, rounded to 2 decimals (the comparison used the exact mean). */
  mean: number;
  rows: DepartmentHires[];
}

/**
 * A year as given in a path or on the command line: a whole number from 1900 to 2100.
 * @throws invalid_year
 */
export function parseYear(value: string | number): number {
  const text = String(value).trim();
  const year = /^[0-9]{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(year >= MIN_YEAR && year <= MAX_YEAR)) {
    throw new AppError(
      'invalid_year',
      `year must be a whole number from ${MIN_YEAR} to ${MAX_YEAR}, got '${text.slice(0, 32)}'`,
    );
  }
  return year;
}

/**
 * Hires per department and job in each quarter (of the UTC hire datetime) of `year`, for the pairs
 * with at least one hire, ordered by department then job (see `byName`).
 * @throws invalid_year, unknown_table (a catalogue without the demo tables)
 */
export async function hiredByQuarter(ctx: Context, yearText: string | number): Promise<HiredByQuarter> {
  const year = parseYear(yearText);
  requireDemoTables(ctx);
  const rows = await hiresByQuarter(ctx.engine.db, ctx.engine.caps, year);
  rows.sort((a, b) => byName(a.department, b.department) || byName(a.job, b.job));
  return { year, rows };
}

/**
 * Departments that hired more than the mean over all departments in `year` (no hires counts as 0),
 * by hires descending, then id.
 * @throws invalid_year, unknown_table (a catalogue without the demo tables)
 */
export async function departmentsAboveMean(
  ctx: Context,
  yearText: string | number,
): Promise<DepartmentsAboveMean> {
  const year = parseYear(yearText);
  requireDemoTables(ctx);
  const { total, departments, rows } = await aboveMeanQuery(ctx.engine.db, ctx.engine.caps, year);
  return { year, mean: roundedMean(total, departments), rows };
}

/**
 * The order users see, the same on every engine: lower-cased names first, then the exact names by
 * UTF-16 code units. Engines sort text by different collations (SQLite binary, MariaDB
 * case-insensitive, PostgreSQL locale rules), so the order is pinned here, in Node, on the
 * aggregated result: at most departments x jobs rows. `toLowerCase` does not depend on the locale.
 */
export function byName(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la !== lb) return la < lb ? -1 : 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

/** total / count rounded half up to 2 decimals, in integers so that 0.125 gives 0.13. */
export function roundedMean(total: number, count: number): number {
  if (count === 0) return 0;
  return Math.floor((200 * total + count) / (2 * count)) / 100;
}

/** The rows of a metric as CSV with a header line. */
export function metricCsv(result: HiredByQuarter | DepartmentsAboveMean): string {
  const columns =
    'mean' in result ? ['id', 'department', 'hired'] : ['department', 'job', 'Q1', 'Q2', 'Q3', 'Q4'];
  return stringify(result.rows as unknown as Record<string, unknown>[], { header: true, columns });
}

/** The demo tables and the columns the metrics read. */
const DEMO_COLUMNS: Record<string, string[]> = {
  departments: ['id', 'department'],
  jobs: ['id', 'job'],
  hired_employees: ['id', 'datetime', 'department_id', 'job_id'],
};

/**
 * Whether the catalogue has the demo tables the metrics read. When it has not, the metric routes and
 * the dashboard are left out of the app and of OpenAPI (app.ts).
 */
export function hasDemoTables(catalogue: Catalogue): boolean {
  return Object.entries(DEMO_COLUMNS).every(
    ([name, columns]) =>
      catalogue.has(name) && columns.every((c) => catalogue.get(name).columns.some((x) => x.name === c)),
  );
}

function requireDemoTables(ctx: Context) {
  for (const name of Object.keys(DEMO_COLUMNS)) ctx.catalogue.get(name);
  if (!hasDemoTables(ctx.catalogue))
    throw new AppError(
      'unknown_table',
      `the metrics need the demo tables ${Object.keys(DEMO_COLUMNS).join(', ')} with their columns; catalogue ${ctx.catalogue.file} has other columns`,
    );
}
