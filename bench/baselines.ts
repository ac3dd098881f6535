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
  /** Runs a SQL file against the baseline database; answers the elapsed ms. */
  replay(file: string): Promise<number>;
  /** The engine's own bulk loader, the clean CSV into the baseline's empty hired_employees. */
  load(csv: string): Promise<number>;
  /** The engine's dump of hired_employees to `file`. */
  dump(file: string): Promise<number>;
  /** Replays `dump`'s file into the baseline database (after emptying the table, where the dump does not). */
  restore(file: string): Promise<number>;
  count(which: 'dp' | 'base'): Promise<number>;
  /** Names of hired_employees' indexes in `which` database, sorted: the baselines must keep the same. */
  indexes(which: 'dp' | 'base'): Promise<string[]>;
  create(): Promise<void>;
  drop(): Promise<void>;
  /** How the metrics SQL is written for this client: `?`/`$n` parameters inlined. */
  inline(sql: string, params: readonly unknown[]): string;
}

const DB = { dp: 'dataport_bench', base: 'dataport_bench_base' };

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
    replay: async (file) => (await sh(`${client(DB.base)} < ${quoteSh(file)}`)).ms,
    // The CSV's '2021-01-01T10:00:00Z' becomes a DATETIME in the server, as dataport converts it in Node.
    load: (csv) =>
      sql(
        'base',
        `LOAD DATA LOCAL INFILE '${csv}' INTO TABLE hired_employees CHARACTER SET utf8mb4 ` +
          `FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY '' LINES TERMINATED BY '\\n' ` +
          `(id, name, @dt, department_id, job_id) SET datetime = REPLACE(LEFT(@dt, 19), 'T', ' ')`,
      ),
    dump: async (file) =>
      (await sh(`mariadb-dump -h127.0.0.1 -P3306 -uroot ${DB.base} hired_employees > ${quoteSh(file)}`)).ms,
    // The dump drops and recreates the table itself.
    restore: async (file) => (await sh(`${client(DB.base)} < ${quoteSh(file)}`)).ms,
    count: async (which) =>
      Number((await sh(`${client(DB[which])} -N -e 'SELECT COUNT(*) FROM hired_employees'`)).stdout.trim()),
    indexes: async (which) =>
      lines(
        await sh(
          `${client(DB[which])} -N -e "SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'hired_employees' ORDER BY 1"`,
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
    replay: async (file) => (await sh(`${client(DB.base)} -f ${quoteSh(file)}`)).ms,
    load: async (csv) =>
      (await sh(`${client(DB.base)} -c ${quoteSh(`\\copy hired_employees FROM '${csv}' WITH (FORMAT csv)`)}`))
        .ms,
    dump: async (file) =>
      (
        await sh(
          `pg_dump -h127.0.0.1 -p5432 -Upostgres --data-only -t hired_employees -f ${quoteSh(file)} ${DB.base}`,
        )
      ).ms,
    // A data-only dump needs an empty table: TRUNCATE first, in the same timed client run.
    restore: async (file) =>
      (await sh(`${client(DB.base)} -c 'TRUNCATE hired_employees' -f ${quoteSh(file)}`)).ms,
    count: async (which) =>
      Number((await sh(`${client(DB[which])} -At -c 'SELECT COUNT(*) FROM hired_employees'`)).stdout.trim()),
    indexes: async (which) =>
      lines(
        await sh(
          `${client(DB[which])} -At -c "SELECT indexname FROM pg_indexes WHERE tablename = 'hired_employees' ORDER BY 1"`,
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

const INDEX_SQL = `SELECT sql || ';' FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'hired_employees' AND sql IS NOT NULL`;

function sqlite(dir: string): Side {
  const file = { dp: join(dir, `${DB.dp}.sqlite`), base: join(dir, `${DB.base}.sqlite`) };
  const client = (which: 'dp' | 'base') => `sqlite3 -bail ${quoteSh(file[which])}`;
  const sql = async (which: 'dp' | 'base', text: string) =>
    (await sh(`${client(which)} ${quoteSh(text)}`)).ms;
  return {
    engine: 'sqlite',
    url: `sqlite:${file.dp}`,
    sql,
    replay: async (f) => (await sh(`${client('base')} < ${quoteSh(f)}`)).ms,
    load: async (csv) =>
      (await sh(`${client('base')} ${quoteSh(`.import --csv ${csv} hired_employees`)}`)).ms,
    // `.dump TABLE` leaves out the table's indexes (sqlite3 3.40), and a restore without them is a
    // third of the work: the index statements follow the dump, as a whole-database `.dump` writes them.
    dump: async (f) =>
      (await sh(`${client('base')} '.dump hired_employees' ${quoteSh(INDEX_SQL)} > ${quoteSh(f)}`)).ms,
    // The dump recreates the table (and its indexes): drop it first, in the timed run.
    restore: async (f) => {
      const drop = join(dir, 'drop.sql');
      writeFileSync(drop, 'DROP TABLE hired_employees;\n');
      return (await sh(`cat ${quoteSh(drop)} ${quoteSh(f)} | ${client('base')}`)).ms;
    },
    count: async (which) =>
      Number((await sh(`${client(which)} 'SELECT COUNT(*) FROM hired_employees'`)).stdout.trim()),
    indexes: async (which) =>
      lines(
        await sh(
          `${client(which)} "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'hired_employees' ORDER BY 1"`,
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
