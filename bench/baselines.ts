import { spawn } from 'node:child_process';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineName } from './dataset.js';

/**
 * The engines' own tools, run through their command-line clients, and the two databases per engine
 * the benchmark uses: `dataport_bench` (dataport's) and `dataport_bench_base` (the baselines'), both
 * migrated by dataport, so the schema (keys, foreign keys, indexes) is the same.
 */
export interface Side {
  engine: EngineName;
  /** DATABASE_URL of dataport's database. */
  url: string;
  /** Runs SQL in the client against `which` database; answers the elapsed ms. */
  sql(which: 'dp' | 'base', text: string): Promise<number>;
  /** Runs SQL in the client against `which` database; answers its output (tab-separated, no header). */
  query(which: 'dp' | 'base', text: string): Promise<string>;
  /** Runs a SQL file against the baseline database; answers the elapsed ms. */
  replay(file: string): Promise<number>;
  /**
   * The engine's own bulk loader, the clean CSV into the baseline's empty `table` (hired_employees by
   * default). `mariadbColumns`: LOAD DATA's column list and SET clause for a table other than
   * hired_employees (see wide.ts).
   */
  load(csv: string, table?: string, mariadbColumns?: string): Promise<number>;
  /** The engine's dump of `table` to `file`. */
  dump(file: string, table?: string): Promise<number>;
  /** Replays `dump`'s file into the baseline database (after emptying the table, where the dump does not). */
  restore(file: string, table?: string): Promise<number>;
  count(which: 'dp' | 'base', table?: string): Promise<number>;
  /** Names of `table`'s indexes in `which` database, sorted: the baselines must keep the same. */
  indexes(which: 'dp' | 'base', table?: string): Promise<string[]>;
  create(): Promise<void>;
  drop(): Promise<void>;
  /** How the metrics SQL is written for this client: `?`/`$n` parameters inlined. */
  inline(sql: string, params: readonly unknown[]): string;
}

/** BENCH_DB renames both, so that two benchmarks on one machine do not drop each other's databases. */
const PREFIX = process.env.BENCH_DB || 'dataport_bench';
const DB = { dp: PREFIX, base: `${PREFIX}_base` };
const HE = 'hired_employees';
/** hired_employees' columns for LOAD DATA: the CSV's '2021-01-01T10:00:00Z' becomes a DATETIME in the server. */
const HE_COLUMNS = `(id, name, @dt, department_id, job_id) SET datetime = REPLACE(LEFT(@dt, 19), 'T', ' ')`;

/** Runs a shell command; answers elapsed ms (and stdout). @throws on a non-zero exit, with stderr */
export function sh(command: string): Promise<{ ms: number; stdout: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout.length < 1e6 ? (stdout += d) : undefined));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) =>
      code === 0
        ? resolve({ ms: performance.now() - started, stdout })
        : reject(new Error(`${command.slice(0, 200)} exited ${code}: ${stderr.slice(0, 2000)}`)),
    );
  });
}

const lines = (out: { stdout: string }) => out.stdout.split('\n').filter(Boolean);
const quoteSh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const literal = (v: unknown) => (typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`);

function mariadb(): Side {
  const client = (db: string) => `mariadb -h127.0.0.1 -P3306 -uroot --local-infile=1 ${db}`;
  const sql = async (which: 'dp' | 'base', text: string) =>
    (await sh(`${client(DB[which])} -e ${quoteSh(text)}`)).ms;
  return {
    engine: 'mariadb',
    url: `mysql://root@127.0.0.1:3306/${DB.dp}`,
    sql,
    query: async (which, text) => (await sh(`${client(DB[which])} -N -e ${quoteSh(text)}`)).stdout.trim(),
    replay: async (file) => (await sh(`${client(DB.base)} < ${quoteSh(file)}`)).ms,
    // Datetimes become DATETIMEs in the server (HE_COLUMNS), as dataport converts them in Node.
    load: (csv, table = HE, columns = HE_COLUMNS) =>
      sql(
        'base',
        `LOAD DATA LOCAL INFILE '${csv}' INTO TABLE ${table} CHARACTER SET utf8mb4 ` +
          `FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY '' LINES TERMINATED BY '\\n' ` +
          columns,
      ),
    dump: async (file, table = HE) =>
      (await sh(`mariadb-dump -h127.0.0.1 -P3306 -uroot ${DB.base} ${table} > ${quoteSh(file)}`)).ms,
    // The dump drops and recreates the table itself.
    restore: async (file) => (await sh(`${client(DB.base)} < ${quoteSh(file)}`)).ms,
    count: async (which, table = HE) =>
      Number((await sh(`${client(DB[which])} -N -e 'SELECT COUNT(*) FROM ${table}'`)).stdout.trim()),
    indexes: async (which, table = HE) =>
      lines(
        await sh(
          `${client(DB[which])} -N -e "SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = '${table}' ORDER BY 1"`,
        ),
      ),
    async create() {
      await this.drop();
      for (const db of Object.values(DB))
        await sh(`${client('')} -e 'CREATE DATABASE ${db} CHARACTER SET utf8mb4'`);
    },
    async drop() {
      for (const db of Object.values(DB)) await sh(`${client('')} -e 'DROP DATABASE IF EXISTS ${db}'`);
    },
    inline: (text, params) => {
      let i = 0;
      return text.replace(/\?/g, () => literal(params[i++]));
    },
  };
}

function postgres(): Side {
  const client = (db: string) => `psql -h127.0.0.1 -p5432 -Upostgres -X -q -v ON_ERROR_STOP=1 -d ${db}`;
  const sql = async (which: 'dp' | 'base', text: string) =>
    (await sh(`${client(DB[which])} -c ${quoteSh(text)}`)).ms;
  return {
    engine: 'postgres',
    url: `postgres://postgres@127.0.0.1:5432/${DB.dp}`,
    sql,
    query: async (which, text) =>
      (await sh(`${client(DB[which])} -At -F ',' -c ${quoteSh(text)}`)).stdout.trim(),
    replay: async (file) => (await sh(`${client(DB.base)} -f ${quoteSh(file)}`)).ms,
    // CSV mode reads an unquoted empty field as NULL, as dataport's catalogue does by default.
    load: async (csv, table = HE) =>
      (await sh(`${client(DB.base)} -c ${quoteSh(`\\copy ${table} FROM '${csv}' WITH (FORMAT csv)`)}`)).ms,
    dump: async (file, table = HE) =>
      (
        await sh(
          `pg_dump -h127.0.0.1 -p5432 -Upostgres --data-only -t ${table} -f ${quoteSh(file)} ${DB.base}`,
        )
      ).ms,
    // A data-only dump needs an empty table: TRUNCATE first, in the same timed client run.
    restore: async (file, table = HE) =>
      (await sh(`${client(DB.base)} -c 'TRUNCATE ${table}' -f ${quoteSh(file)}`)).ms,
    count: async (which, table = HE) =>
      Number((await sh(`${client(DB[which])} -At -c 'SELECT COUNT(*) FROM ${table}'`)).stdout.trim()),
    indexes: async (which, table = HE) =>
      lines(
        await sh(
          `${client(DB[which])} -At -c "SELECT indexname FROM pg_indexes WHERE tablename = '${table}' ORDER BY 1"`,
        ),
      ),
    async create() {
      await this.drop();
      for (const db of Object.values(DB)) await sh(`${client('postgres')} -c 'CREATE DATABASE ${db}'`);
    },
    async drop() {
      for (const db of Object.values(DB))
        await sh(`${client('postgres')} -c 'DROP DATABASE IF EXISTS ${db} WITH (FORCE)'`);
    },
    inline: (text, params) => text.replace(/\$(\d+)/g, (_, n) => literal(params[Number(n) - 1])),
  };
}

const indexSql = (table: string) =>
  `SELECT sql || ';' FROM sqlite_schema WHERE type = 'index' AND tbl_name = '${table}' AND sql IS NOT NULL`;

function sqlite(dir: string): Side {
  const file = { dp: join(dir, `${DB.dp}.sqlite`), base: join(dir, `${DB.base}.sqlite`) };
  const client = (which: 'dp' | 'base') => `sqlite3 -bail ${quoteSh(file[which])}`;
  const sql = async (which: 'dp' | 'base', text: string) =>
    (await sh(`${client(which)} ${quoteSh(text)}`)).ms;
  return {
    engine: 'sqlite',
    url: `sqlite:${file.dp}`,
    sql,
    query: async (which, text) =>
      (await sh(`${client(which)} -separator ',' ${quoteSh(text)}`)).stdout.trim(),
    replay: async (f) => (await sh(`${client('base')} < ${quoteSh(f)}`)).ms,
    // `.import` has no NULL: an empty field stays '' (text), which is no slower to write than a NULL.
    load: async (csv, table = HE) =>
      (await sh(`${client('base')} ${quoteSh(`.import --csv ${csv} ${table}`)}`)).ms,
    // `.dump TABLE` leaves out the table's indexes (sqlite3 3.40), and a restore without them is a
    // third of the work: the index statements follow the dump, as a whole-database `.dump` writes them.
    dump: async (f, table = HE) =>
      (await sh(`${client('base')} '.dump ${table}' ${quoteSh(indexSql(table))} > ${quoteSh(f)}`)).ms,
    // The dump recreates the table (and its indexes): drop it first, in the timed run.
    restore: async (f, table = HE) => {
      const drop = join(dir, `drop-${table}.sql`);
      writeFileSync(drop, `DROP TABLE ${table};\n`);
      return (await sh(`cat ${quoteSh(drop)} ${quoteSh(f)} | ${client('base')}`)).ms;
    },
    count: async (which, table = HE) =>
      Number((await sh(`${client(which)} 'SELECT COUNT(*) FROM ${table}'`)).stdout.trim()),
    indexes: async (which, table = HE) =>
      lines(
        await sh(
          `${client(which)} "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = '${table}' ORDER BY 1"`,
        ),
      ),
    async create() {
      await this.drop();
    },
    async drop() {
      for (const f of Object.values(file))
        for (const s of ['', '-wal', '-shm']) rmSync(f + s, { force: true });
    },
    inline: (text, params) => {
      let i = 0;
      return text.replace(/\?/g, () => literal(params[i++]));
    },
  };
}

export function sideFor(engine: EngineName, dir: string): Side {
  return engine === 'mariadb' ? mariadb() : engine === 'postgres' ? postgres() : sqlite(dir);
}

export const baseUrl = (side: Side) => side.url.replace(DB.dp, DB.base);

export const sizeOf = (file: string) => statSync(file).size;
