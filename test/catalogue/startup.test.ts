import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { cp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createEngine } from '../../src/db/index.js';
import { closeContext, openContext } from '../../src/open.js';
import { loadCatalogue } from '../../src/tables/catalogue.js';
import { testEngines } from '../helpers/engines.js';
import { yamlCatalogue } from '../helpers/catalogue.js';

/**
 * The catalogue at start: a bad file stops the server and the CLI with exit code 2 and one message
 * listing every problem with its line; the CLI's `tables` with the shop catalogue; a database whose
 * catalogue table differs stops the start, naming the table and the column.
 */
const BIN = path.resolve('bin/dataport.js');

const BAD = `tables:
  - name: orders
    primary_key: [id]
    columns:
      - { name: id, type: varchar }
      - { name: total, type: decimal, precision: 40, scale: 2 }
      - { name: customer, type: bigint, references: zz.id }
  - name: Bad-Name
    colour: red
    columns:
      - { name: x, type: string }
`;

/** Each problem of BAD: its place in the file and what the message says. */
const PROBLEMS = [
  /tables\[0\]\.columns\[0\]\.type \(line 5\): unknown type 'varchar' \(known: integer, bigint, decimal, double, boolean, string, text, date, datetime\)/,
  /tables\[0\]\.columns\[1\]\.precision \(line 6\): precision must be a whole number from 1 to 38, got 40/,
  /tables\[0\]\.columns\[2\]\.references \(line 7\): references unknown table 'zz'/,
  /tables\[1\]\.name \(line 8\): a table name must match/,
  /tables\[1\]\.colour \(line 9\): unknown key 'colour'/,
  /tables\[1\]\.columns\[0\]\.max_length \(line 11\): string needs max_length/,
];

interface Ran {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs `node args` with exactly `env` (plus PATH and HOME); never rejects. */
function node(args: string[], env: Record<string, string>, timeout = 60_000): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? -1, stdout, stderr });
    });
  });
}

const dataport = (env: Record<string, string>, ...args: string[]) =>
  new Promise<Ran>((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });

const server = (env: Record<string, string>) =>
  node(['--import', 'tsx', 'src/server.ts'], { PORT: '0', ...env });

/** One message, with every problem in it, each with its line. */
function expectEveryProblem(stderr: string, file: string) {
  expect(stderr).toContain(`invalid catalogue ${file}: 7 problems:`);
  for (const problem of PROBLEMS) expect(stderr).toMatch(problem);
  expect(
    stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('  - ')).length,
  ).toBe(7);
}

describe('a bad catalogue file at start', { timeout: 120_000 }, () => {
  let dir = '';
  let bad = '';
  let env: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dataport-catalogue-start-'));
    bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, BAD);
    env = {
      DATABASE_URL: `sqlite:${path.join(dir, 'db.sqlite')}`,
      STORAGE_URL: `file:${dir}`,
      LOG_LEVEL: 'silent',
    };
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('stops the server with exit code 2 and one message listing every problem with its line', async () => {
    const r = await server({ ...env, CATALOGUE: bad });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.startsWith(`dataport: invalid catalogue ${bad}: 7 problems:\n`)).toBe(true);
    expectEveryProblem(r.stderr, bad);
    // Read and checked before anything opens.
    expect(existsSync(path.join(dir, 'db.sqlite'))).toBe(false);
  });

  it('stops the server with exit code 2 on a file that is not YAML', async () => {
    const broken = path.join(dir, 'broken.yaml');
    await writeFile(broken, 'tables:\n  - name: a\n    columns: [ { name: x, type: integer }\n');
    const r = await server({ ...env, CATALOGUE: broken });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(`^dataport: invalid catalogue ${broken}: 1 problem:\\n {2}- line \\d+, column \\d+: `),
    );
  });

  it('refuses a missing file, and a file of another kind, with the message the start prints', () => {
    expect(() => loadCatalogue(path.join(dir, 'missing.yaml'))).toThrow(
      /missing\.yaml: 1 problem:\n {2}- cannot be read/,
    );
    expect(() => loadConfig({ ...env, CATALOGUE: path.join(dir, 'catalogue.txt') })).toThrow(
      /CATALOGUE must name a .yaml, .yml or .json file/,
    );
  });

  it('stops `dataport --catalogue <bad file> tables` with exit code 2 and the same message', async () => {
    const r = await dataport(env, '--catalogue', bad, 'tables');
    expect(r.code, r.stderr).toBe(2);
    expectEveryProblem(r.stderr, bad);
    expect(r.stdout).toBe('');
  });
});

describe('dataport tables with the shop catalogue', { timeout: 120_000 }, () => {
  let dir = '';
  let env: Record<string, string> = {};
  const shop = (...args: string[]) => dataport(env, '--catalogue', 'catalogues/shop.yaml', ...args);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dataport-catalogue-cli-'));
    await cp(path.resolve('storage'), path.join(dir, 'bucket'), { recursive: true });
    env = {
      DATABASE_URL: `sqlite:${path.join(dir, 'shop.sqlite')}`,
      STORAGE_URL: `file:${path.join(dir, 'bucket')}`,
      LOG_LEVEL: 'silent',
    };
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists the five tables with row counts, and --json gives the objects of GET /tables', async () => {
    // The HTTP app on the same database: it loads customers, then answers what the CLI must print.
    const config = loadConfig({ ...env, CATALOGUE: 'catalogues/shop.yaml' });
    const ctx = await openContext(config, { log: pino({ level: 'silent' }) });
    const app = await buildApp(config, ctx);
    try {
      const load = await app.inject({ method: 'POST', url: '/load_historic_data/customers' });
      expect(load.json()).toMatchObject({ table: 'customers', loaded: 7, rejected: 7 });

      const text = await shop('tables');
      expect(text.code, text.stderr).toBe(0);
      const lines = text.stdout.trim().split('\n');
      expect(lines[0]).toBe('catalogue catalogues/shop.yaml');
      expect(lines[1].split(/\s{2,}/)).toEqual(['table', 'rows', 'primary key', 'columns']);
      expect(lines.slice(3).map((l) => l.trim().split(/\s{2,}/))).toEqual([
        ['customers', '7', 'id', '7'],
        ['products', '0', 'sku', '8'],
        ['orders', '0', 'id', '6'],
        ['order_lines', '0', 'order_id, line_no', '7'],
        ['page_views', '0', '(none)', '3'],
      ]);

      const json = await shop('tables', '--json');
      expect(json.code, json.stderr).toBe(0);
      const cli = JSON.parse(json.stdout);
      expect(cli.tables.map((t: { name: string; row_count: number }) => [t.name, t.row_count])).toEqual([
        ['customers', 7],
        ['products', 0],
        ['orders', 0],
        ['order_lines', 0],
        ['page_views', 0],
      ]);
      expect(cli).toEqual((await app.inject({ method: 'GET', url: '/tables' })).json());
      const one = await shop('tables', 'order_lines', '--json');
      expect(one.code, one.stderr).toBe(0);
      expect(JSON.parse(one.stdout)).toEqual(
        (await app.inject({ method: 'GET', url: '/tables/order_lines' })).json(),
      );
    } finally {
      await app.close();
      await closeContext(ctx);
    }
  });
});

describe.each(testEngines())(
  'a catalogue table that differs from the database on $name',
  { timeout: 120_000 },
  (testEngine) => {
    const catalogue = yamlCatalogue(`tables:
  - name: ledger
    primary_key: [id]
    columns:
      - { name: id, type: integer }
      - { name: amount, type: decimal, precision: 12, scale: 2 }
      - { name: label, type: string, max_length: 20 }
`);
    let database: Awaited<ReturnType<typeof testEngine.create>>;
    let storage = '';

    beforeAll(async () => {
      database = await testEngine.create();
      storage = mkdtempSync(path.join(tmpdir(), 'dataport-catalogue-differs-'));
    });
    afterAll(async () => {
      await database?.drop();
      if (storage) await rm(storage, { recursive: true, force: true });
    });

    const env = () => ({ DATABASE_URL: database.url, STORAGE_URL: `file:${storage}`, LOG_LEVEL: 'silent' });
    const config = () => loadConfig(env());
    const refused = (c = catalogue) =>
      openContext(config(), { log: pino({ level: 'silent' }), catalogue: c }).then(
        async (ctx) => {
          await closeContext(ctx);
          return null;
        },
        (e: Error & { code?: string }) => e,
      );
    /** Drops the table, then runs `ddl` (if any) on a connection of its own. */
    const byHand = async (ddl?: string) => {
      const engine = await createEngine(database.url);
      try {
        await sql`DROP TABLE IF EXISTS ledger`.execute(engine.db);
        if (ddl) await sql.raw(ddl).execute(engine.db);
      } finally {
        await engine.close();
      }
    };

    it('fails the start naming the table and a column of another type', async () => {
      await byHand(
        'CREATE TABLE ledger (id integer NOT NULL PRIMARY KEY, amount varchar(20) NOT NULL, label varchar(20) NOT NULL)',
      );
      const err = await refused();
      expect(err?.code).toBe('migration_failed');
      expect(err?.message).toMatch(
        /table ledger exists but differs from the catalogue: .*column amount is (varchar|character varying)\(20\) in the database, decimal\(12,2\)/i,
      );
    });

    it('fails the start naming the table and a missing column', async () => {
      await byHand('CREATE TABLE ledger (id integer NOT NULL PRIMARY KEY, amount decimal(12,2) NOT NULL)');
      const err = await refused();
      expect(err?.code).toBe('migration_failed');
      expect(err?.message).toMatch(
        /table ledger exists but differs from the catalogue: .*column label is missing from the database, string\(20\)/,
      );
    });

    it('fails the start when the catalogue changes a table created from it, and the server process exits 1 saying so', async () => {
      await byHand();
      const created = await refused();
      expect(created).toBeNull();
      const changed = yamlCatalogue(
        `tables:
  - name: ledger
    primary_key: [id]
    columns:
      - { name: id, type: integer }
      - { name: amount, type: decimal, precision: 12, scale: 2 }
      - { name: label, type: string, max_length: 20, nullable: true }
      - { name: booked_on, type: date }
`,
      );
      const err = await refused(changed);
      expect(err?.message).toMatch(
        /table ledger .*column label is NOT NULL in the database, nullable in the catalogue/,
      );
      expect(err?.message).toMatch(/table ledger .*column booked_on is missing from the database/);

      const file = path.join(storage, 'changed.yaml');
      await writeFile(
        file,
        `tables:\n  - name: ledger\n    primary_key: [id]\n    columns:\n      - { name: id, type: integer }\n      - { name: amount, type: double }\n      - { name: label, type: string, max_length: 20 }\n`,
      );
      const r = await server({ ...env(), CATALOGUE: file });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(
        /^dataport: failed to start: .*table ledger exists but differs from the catalogue: column amount is \S+.* in the database, double/,
      );
    });
  },
);
