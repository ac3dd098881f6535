import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateSampleData,
  historicPath,
  rejectReasons,
  sampleCounts,
  sampleTables,
  writeCleanEmployees,
  type RejectReason,
  type SampleReport,
  type TableCounts,
} from '../scripts/sample-data.js';
import { defaultCatalogue } from '../src/tables/catalogue.js';

const demoCatalogue = defaultCatalogue();

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dataport-sample-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

async function hashes(report: SampleReport): Promise<string[]> {
  return Promise.all(sampleTables.map((t) => sha256(report.files[t])));
}

/** An independent, deliberately naive reading of the data rules, to check the generator's own counts. */
function classify(records: string[][], table: string, knownIds: Map<string, Set<number>>): TableCounts {
  const def = demoCatalogue.tables.find((t) => t.name === table)!;
  const bad = Object.fromEntries(rejectReasons.map((r) => [r, 0])) as Record<RejectReason, number>;
  const ids = new Set<number>();
  for (const rec of records) {
    const reason = ((): RejectReason | undefined => {
      if (rec.length !== def.columns.length) return 'wrong_field_count';
      if (rec.some((v) => v.trim() === '')) return 'missing_value';
      for (const [i, c] of def.columns.entries()) {
        const v = rec[i];
        if (c.type === 'integer' && !/^-?\d+$/.test(v)) return 'invalid_integer';
        if (c.type === 'string' && [...v].length > c.max_length!) return 'too_long';
        if (c.type === 'datetime') {
          const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/.exec(v);
          if (!m) return 'invalid_datetime';
          const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
          const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
          if (
            t.getUTCMonth() !== mo - 1 ||
            t.getUTCDate() !== d ||
            t.getUTCHours() !== h ||
            t.getUTCMinutes() !== mi ||
            t.getUTCSeconds() !== s
          )
            return 'invalid_datetime';
        }
        const parent = def.foreign_keys.find((fk) => fk.columns[0] === c.name)?.references.table;
        if (parent && !knownIds.get(parent)!.has(Number(v))) return 'unknown_reference';
      }
      if (ids.has(Number(rec[0]))) return 'duplicate_id';
      return undefined;
    })();
    if (reason) bad[reason]++;
    else ids.add(Number(rec[0]));
  }
  knownIds.set(table, ids);
  return { rows: records.length, good: ids.size, bad };
}

describe('sample data generator', () => {
  it('writes the same bytes on every run', async () => {
    const a = await generateSampleData({ out: join(dir, 'a') });
    const b = await generateSampleData({ out: join(dir, 'b') });
    expect(await hashes(a)).toEqual(await hashes(b));
    const other = await generateSampleData({ out: join(dir, 'c'), seed: 7 });
    expect((await hashes(other))[2]).not.toEqual((await hashes(a))[2]);
  });

  it('reports exactly the good and bad rows it wrote, and the files parse as RFC 4180', async () => {
    const report = await generateSampleData({ out: join(dir, 'd') });
    expect(report.counts).toEqual(sampleCounts());
    expect(report.counts.hired_employees.good).toBe(2000 - 3 * rejectReasons.length);
    const known = new Map<string, Set<number>>();
    for (const table of sampleTables) {
      const text = await readFile(report.files[table], 'utf8');
      const records: string[][] = parse(text, { relax_column_count: true });
      const width = demoCatalogue.tables.find((t) => t.name === table)!.columns.length;
      const odd = records.filter((r) => r.length !== width).length;
      expect(odd).toBe(report.counts[table].bad.wrong_field_count);
      expect(classify(records, table, known)).toEqual(report.counts[table]);
    }
    const employees = await readFile(report.files.hired_employees, 'utf8');
    // The awkward values the loaders must survive are really in the file.
    expect(employees).toMatch(/O'Brien|O'Connor|D'Angelo|O'Neill/);
    expect(employees).toMatch(/"[^"\n]*, [^"\n]*"/);
    expect(employees).toMatch(/"[^\n]*""[^\n]*""[^\n]*"/);
    expect(employees).toMatch(/José|Zoë|Łukasz/);
  });

  it('spreads a bad rate over every reason', async () => {
    const report = await generateSampleData({ out: join(dir, 'e'), employees: 7000, badRate: 0.01 });
    expect(report.counts.hired_employees).toEqual({
      rows: 7000,
      good: 6930,
      bad: Object.fromEntries(rejectReasons.map((r) => [r, 10])),
    });
    const known = new Map<string, Set<number>>();
    for (const table of sampleTables) {
      const records: string[][] = parse(await readFile(report.files[table]), { relax_column_count: true });
      expect(classify(records, table, known)).toEqual(report.counts[table]);
    }
  });

  it('writes clean files with no bad rows', async () => {
    const report = await generateSampleData({ out: join(dir, 'f'), employees: 500, clean: true });
    const path = join(dir, 'clean.csv');
    expect(await writeCleanEmployees(path, 500)).toEqual(report.counts.hired_employees);
    expect(await sha256(path)).toBe(await sha256(report.files.hired_employees));
    const known = new Map<string, Set<number>>();
    for (const table of sampleTables) {
      const records: string[][] = parse(await readFile(report.files[table]), { relax_column_count: true });
      const counts = classify(records, table, known);
      expect(counts.good).toBe(records.length);
      expect(counts).toEqual(report.counts[table]);
    }
  });

  it('matches the committed sample files', async (ctx) => {
    if (!existsSync(historicPath('storage', 'hired_employees'))) ctx.skip();
    const fresh = await generateSampleData({ out: join(dir, 'g') });
    for (const table of sampleTables) {
      expect(await sha256(historicPath('storage', table)), table).toBe(await sha256(fresh.files[table]));
    }
  });
});
