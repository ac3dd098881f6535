import { sql, type Kysely } from 'kysely';
import type { DialectCaps } from '../../db/engine.js';

/**
 * SQL for the exploration metrics over the demo tables (hired_employees, departments, jobs).
 *
 * Both queries filter hires by a half-open datetime range bound as parameters, never by a function
 * of the column, so the (department_id, job_id, datetime) index serves them on every engine; they
 * aggregate on ids first and look up the names after (see ../shared/PERF-NOTES.md, "Queries").
 */

/** The UTC instants that bound a year and its quarters, as the driver wants them bound. */
export function yearBounds(caps: DialectCaps, year: number) {
  const at = (y: number, month: number) =>
    caps.encodeDatetime(new Date(Date.UTC(y, month - 1, 1)).toISOString());
  return { from: at(year, 1), apr: at(year, 4), jul: at(year, 7), oct: at(year, 10), to: at(year + 1, 1) };
}

export interface QuarterRow {
  department: string;
  job: string;
  Q1: number;
  Q2: number;
  Q3: number;
  Q4: number;
}

/**
 * Hires per (department, job) and quarter of the year; only pairs with a hire. Unordered.
 *
 * One pass over the (department_id, job_id, datetime) index, grouped in its order. Per row it only
 * compares the datetime with three upper bounds (hires before April, July, October, and all of the
 * year); the quarters are their differences, taken here. On MariaDB 10.11 with 1M rows this is 0.17 s
 * against 0.22 s for one COUNT(CASE) per quarter with both bounds. The names come from scalar
 * subqueries on the grouped rows, not a join: MariaDB turns the join into a "lateral derived" plan
 * that groups each department again through a temporary table (0.20 s); the foreign keys make the
 * two forms give the same rows.
 */
export async function hiresByQuarter(
  db: Kysely<any>,
  caps: DialectCaps,
  year: number,
): Promise<QuarterRow[]> {
  const b = yearBounds(caps, year);
  // COUNT of a CASE without ELSE counts the rows before the bound; the literal 1 is not a parameter,
  // so PostgreSQL needs no type for it.
  const perIds = db
    .selectFrom('hired_employees')
    .select(['department_id', 'job_id'])
    .select((eb) => {
      const before = (bound: typeof b.apr) =>
        eb.fn.count(eb.case().when('datetime', '<', bound).then(eb.lit(1)).end());
      return [
        before(b.apr).as('to_apr'),
        before(b.jul).as('to_jul'),
        before(b.oct).as('to_oct'),
        eb.fn.countAll().as('to_end'),
      ];
    })
    .where('datetime', '>=', b.from)
    .where('datetime', '<', b.to)
    .groupBy(['department_id', 'job_id']);
  const rows = await db
    .selectFrom(perIds.as('h'))
    .select((eb) => [
      eb
        .selectFrom('departments as d')
        .select('d.department')
        .whereRef('d.id', '=', 'h.department_id')
        .as('department'),
      eb.selectFrom('jobs as j').select('j.job').whereRef('j.id', '=', 'h.job_id').as('job'),
      'h.to_apr',
      'h.to_jul',
      'h.to_oct',
      'h.to_end',
    ])
    .execute();
  // Counts come back as numbers (SQLite), bigint strings (PostgreSQL) or numbers/strings (MariaDB).
  return rows.map((r) => {
    const [apr, jul, oct, end] = [r.to_apr, r.to_jul, r.to_oct, r.to_end].map(Number);
    return {
      department: String(r.department),
      job: String(r.job),
      Q1: apr,
      Q2: jul - apr,
      Q3: oct - jul,
      Q4: end - oct,
    };
  });
}

export interface DepartmentHires {
  id: number;
  department: string;
  hired: number;
}

export interface AboveMean {
  /** Hires that year over all departments, and the number of departments: mean = total / departments. */
  total: number;
  departments: number;
  rows: DepartmentHires[];
}

/**
 * Departments that hired more than the mean over all departments (one with no hires counts as 0),
 * by hires descending, then id. The comparison is exact in integers, `hired * departments > total`,
 * instead of against AVG(), whose scale differs by engine (MariaDB keeps 4 decimals). Window
 * functions give the totals in one pass; MariaDB computes a CTE form twice.
 */
export async function departmentsAboveMean(
  db: Kysely<any>,
  caps: DialectCaps,
  year: number,
): Promise<AboveMean> {
  const b = yearBounds(caps, year);
  const perDepartment = db
    .selectFrom('hired_employees')
    .select((eb) => ['department_id', eb.fn.countAll().as('hired')])
    .where('datetime', '>=', b.from)
    .where('datetime', '<', b.to)
    .groupBy('department_id');
  const counted = db
    .selectFrom('departments as d')
    .leftJoin(perDepartment.as('h'), 'h.department_id', 'd.id')
    .select((eb) => [
      'd.id',
      'd.department',
      eb.fn.coalesce('h.hired', eb.lit(0)).as('hired'),
      eb.fn.countAll().over().as('departments'),
      eb.fn
        .sum(eb.fn.coalesce('h.hired', eb.lit(0)))
        .over()
        .as('total'),
    ]);
  const rows = await db
    .selectFrom(counted.as('c'))
    .selectAll()
    .where(sql<number>`${sql.ref('c.hired')} * ${sql.ref('c.departments')}`, '>', sql.ref<number>('c.total'))
    .orderBy('c.hired', 'desc')
    .orderBy('c.id')
    .execute();
  if (rows.length > 0) {
    return {
      total: Number(rows[0].total),
      departments: Number(rows[0].departments),
      rows: rows.map((r) => ({ id: Number(r.id), department: String(r.department), hired: Number(r.hired) })),
    };
  }
  // No department above the mean: every one hired exactly the mean (or there are none); the totals
  // still give the mean to report.
  const [totals] = await db
    .selectNoFrom((eb) => [
      eb.selectFrom('departments').select(eb.fn.countAll().as('n')).as('departments'),
      eb
        .selectFrom('hired_employees')
        .select(eb.fn.countAll().as('n'))
        .where('datetime', '>=', b.from)
        .where('datetime', '<', b.to)
        .as('total'),
    ])
    .execute();
  return { total: Number(totals.total), departments: Number(totals.departments), rows: [] };
}
