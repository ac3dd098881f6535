import type { InsertResult } from '../modules/inserts/inserts.service.js';
import type { LoadResult } from '../modules/loads/loads.service.js';
import type { listTableRejects } from '../modules/rejects/rejects.service.js';
import type { DepartmentsAboveMean, HiredByQuarter } from '../modules/metrics/metrics.service.js';
import type { TableInfo } from '../modules/tables/tables.service.js';
import { typeLabel } from '../tables/column-types.js';

/** Human-readable forms of the services' results; `--json` prints the objects themselves instead. */

/** Columns padded to their widest cell; numbers right-aligned. */
export function textTable(columns: string[], rows: Record<string, unknown>[]): string {
  const cells = rows.map((r) => columns.map((c) => String(r[c] ?? '')));
  const numeric = columns.map(
    (_, i) => rows.length > 0 && rows.every((r) => typeof r[columns[i]] === 'number'),
  );
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}

export function hiredByQuarterText(r: HiredByQuarter): string {
  if (r.rows.length === 0) return `no hires in ${r.year}\n`;
  return textTable(
    ['department', 'job', 'Q1', 'Q2', 'Q3', 'Q4'],
    r.rows as unknown as Record<string, unknown>[],
  );
}

export function aboveMeanText(r: DepartmentsAboveMean): string {
  const head = `mean hires per department in ${r.year}: ${r.mean}\n`;
  if (r.rows.length === 0) return `${head}no department hired more than the mean\n`;
  return head + textTable(['id', 'department', 'hired'], r.rows as unknown as Record<string, unknown>[]);
}

/** Any flat result object as `key: value` lines (arrays and objects as JSON). */
export function keyValues(result: object): string {
  return (
    Object.entries(result)
      .map(([k, v]) => `${k}: ${v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join('\n') + '\n'
  );
}

export function loadText(r: LoadResult) {
  let text = `${r.table}: read ${r.rows_read} rows from ${r.source}: ${r.loaded} loaded, ${r.rejected} rejected (load ${r.load_id})\n`;
  if (r.rejected > 0) text += `see the rejects: dataport rejects ${r.table} --load-id ${r.load_id}\n`;
  return text;
}

export function insertText(r: InsertResult) {
  let text = `${r.table}: ${r.received} rows received, ${r.inserted} inserted, ${r.rejected} rejected (load ${r.load_id})\n`;
  for (const x of r.rejects)
    text += `  row ${x.index}: ${x.reason}${x.column ? ` (${x.column})` : ''}: ${x.message}\n`;
  return text;
}

export function rejectsText(r: Awaited<ReturnType<typeof listTableRejects>>) {
  let text = `${r.table}: ${r.total} rejects${r.total > r.rejects.length ? ` (showing ${r.rejects.length}, newest first)` : ''}\n`;
  for (const x of r.rejects) {
    const where = x.line !== undefined ? `line ${x.line}` : x.index !== undefined ? `row ${x.index}` : 'row';
    text += `  ${x.load_id} ${where}: ${x.reason}${x.column ? ` (${x.column})` : ''}: ${x.message}\n    ${x.raw}\n`;
  }
  return text;
}

export function migrateText(r: { applied: string[]; current: string | null }) {
  return r.applied.length
    ? `applied ${r.applied.length} migrations: ${r.applied.join(', ')}\ncurrent: ${r.current}\n`
    : `nothing to apply; current: ${r.current ?? 'none'}\n`;
}

export function tablesText(r: { catalogue: string; tables: TableInfo[] }): string {
  const rows = r.tables.map((t) => ({
    table: t.name,
    rows: t.row_count,
    'primary key': t.primary_key.join(', ') || '(none)',
    columns: t.columns.length,
  }));
  return `catalogue ${r.catalogue}\n${textTable(['table', 'rows', 'primary key', 'columns'], rows)}`;
}

export function tableText(t: TableInfo): string {
  const rows = t.columns.map((c) => ({
    column: c.name,
    type: typeLabel(c),
    null: c.nullable ? 'yes' : 'no',
    key: t.primary_key.includes(c.name) ? 'primary' : '',
    references: t.foreign_keys
      .filter((fk) => fk.columns.includes(c.name))
      .map((fk) => `${fk.references.table}.${fk.references.columns[fk.columns.indexOf(c.name)]}`)
      .join(', '),
  }));
  return `${t.name}: ${t.row_count} rows, source ${t.source}\n${textTable(['column', 'type', 'null', 'key', 'references'], rows)}`;
}
