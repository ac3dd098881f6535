import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { generateSampleData, historicPath, writeCleanEmployees } from '../scripts/sample-data.js';

/** The files one benchmark size works on; generated once per size and reused by every engine and run. */
export interface Dataset {
  rows: number;
  /** Storage root (STORAGE_URL=file:…) holding the three historic files, ~1% bad employee rows. */
  storage: string;
  /** Employee rows dataport keeps from the historic file (the good ones). */
  goodRows: number;
  /** The same number of rows, all valid, for the engines' own bulk loaders. */
  cleanCsv: string;
  /** Payload insert rows: 1000-row JSON bodies, and the same rows as SQL per engine. */
  inserts: { rows: number; bodies: string[]; sql: Record<'mariadb' | 'postgres' | 'sqlite', string> };
}

export type EngineName = 'mariadb' | 'postgres' | 'sqlite';

const BATCH = 1000;

export async function makeDataset(dir: string, rows: number, insertRows: number): Promise<Dataset> {
  await mkdir(dir, { recursive: true });
  const storage = join(dir, 'storage');
  const cleanCsv = join(dir, 'clean.csv');
  const marker = join(dir, 'report.json');
  if (!existsSync(marker)) {
    const report = await generateSampleData({ out: storage, employees: rows, badRate: 0.01 });
    await writeCleanEmployees(cleanCsv, rows);
    await writeCleanEmployees(join(dir, 'inserts.csv'), insertRows);
    await writeFile(marker, JSON.stringify(report.counts));
  }
  const counts = JSON.parse(await readFile(marker, 'utf8'));
  const records = parse(await readFile(join(dir, 'inserts.csv'))) as string[][];
  const objects = records.map(([id, name, datetime, department, job]) => ({
    id: Number(id),
    name,
    datetime,
    department_id: Number(department),
    job_id: Number(job),
  }));
  const bodies: string[] = [];
  for (let i = 0; i < objects.length; i += BATCH) bodies.push(JSON.stringify(objects.slice(i, i + BATCH)));
  const sql = {} as Record<EngineName, string>;
  for (const engine of ['mariadb', 'postgres', 'sqlite'] as const) {
    const file = join(dir, `inserts.${engine}.sql`);
    if (!existsSync(file)) await writeFile(file, insertSql(engine, objects));
    sql[engine] = file;
  }
  return {
    rows,
    storage,
    goodRows: counts.hired_employees.good,
    cleanCsv,
    inserts: { rows: objects.length, bodies, sql },
  };
}

/** The payload rows as 1000-row multi-row INSERTs, datetimes as each engine stores them. */
function insertSql(
  engine: EngineName,
  rows: { id: number; name: string; datetime: string; department_id: number; job_id: number }[],
): string {
  const text = (s: string) =>
    `'${(engine === 'mariadb' ? s.replace(/\\/g, '\\\\') : s).replace(/'/g, "''")}'`;
  const when = (iso: string) =>
    engine === 'sqlite' ? `${iso.slice(0, 19)}.000Z` : `${iso.slice(0, 19).replace('T', ' ')}.000`;
  const q = engine === 'mariadb' ? '`' : '"';
  const head = `INSERT INTO ${q}hired_employees${q} (id, name, ${q}datetime${q}, department_id, job_id) VALUES\n`;
  const out: string[] = [];
  for (let i = 0; i < rows.length; i += BATCH) {
    const values = rows
      .slice(i, i + BATCH)
      .map((r) => `(${r.id},${text(r.name)},'${when(r.datetime)}',${r.department_id},${r.job_id})`);
    out.push(`${head}${values.join(',\n')};\n`);
  }
  return out.join('');
}

export { historicPath };
