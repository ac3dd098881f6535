/**
 * `npm run bench -- [--rows N] [--runs N] [--engines mariadb,postgres,sqlite] [--parts demo,wide,server]
 *   [--wide-rows N] [--server dist,tsx] [--json FILE] [--markdown FILE] [--quick] [--skip-5x] [--dir DIR]`
 * Measures dataport against each engine's own bulk tools on the same files, in the same run, and
 * prints one table of medians and ratios (see bench/RESULTS.md). Timings live here, never in tests.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { baseUrl, sideFor, sizeOf, type Side } from './baselines.js';
import { child, httpMetrics, inserts, metricsSql, serve, snapshotDist } from './child-runner.js';
import { makeDataset, type Dataset, type EngineName } from './dataset.js';
import {
  median,
  memoryTable,
  serverTable,
  sizes,
  table,
  type Measure,
  type MemoryLine,
  type ServerLine,
} from './report.js';
import { serverMemory, type ServerMode } from './server-memory.js';
import {
  makeWideDataset,
  mariadbWideColumns,
  WIDE_CATALOGUE,
  WIDE_TABLE,
  wideTable,
  type WideDataset,
} from './wide.js';

const USAGE = `npm run bench -- [options]   (builds dist/ first; runs the compiled code in child processes)

  --rows N          demo hired_employees rows (default 1000000; ~1% bad)
  --runs N          runs per engine; medians are reported (default 3)
  --engines LIST    mariadb,postgres,sqlite (default all three)
  --parts LIST      demo,wide,server (default all three):
                      demo    the demo tables: loads, backups, restores, metrics, payload inserts
                      wide    the 12-column wide table of bench/wide.yaml: load, backup, restore
                      server  one running server loads, backs up and restores the demo rows (peak RSS)
  --wide-rows N     rows of the wide table (default: --rows)
  --server LIST     dist,tsx: servers of the server part (default dist,tsx; tsx is npm start)
  --skip-5x         leave out the demo part's 5x memory pass
  --quick           20000 rows, 1 run (a smoke test)
  --dir DIR         data sets and dumps (default $TMPDIR/dataport-bench; reused between runs)
  --json FILE       every measure as JSON
  --markdown FILE   the report as Markdown
  --help            this text

Needs MariaDB (root@127.0.0.1:3306, local_infile=ON), PostgreSQL (postgres@127.0.0.1:5432) and the
mariadb, mariadb-dump, psql, pg_dump and sqlite3 clients. Creates and drops dataport_bench and
dataport_bench_base (BENCH_DB=name: name and name_base). Compare ratios measured in the same run,
never absolute times of different runs.
`;

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    engines: { type: 'string', default: 'mariadb,postgres,sqlite' },
    parts: { type: 'string', default: 'demo,wide,server' },
    'wide-rows': { type: 'string' },
    server: { type: 'string', default: 'dist,tsx' },
    json: { type: 'string' },
    markdown: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'skip-5x': { type: 'boolean', default: false },
    dir: { type: 'string', default: join(tmpdir(), 'dataport-bench') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const rows = args.quick ? 20_000 : Number(args.rows);
const wideRows = args.quick ? 20_000 : Number(args['wide-rows'] ?? rows);
const runs = args.quick ? 1 : Number(args.runs);
const engines = args.engines.split(',').map((e) => e.trim()) as EngineName[];
const parts = new Set(args.parts.split(',').map((p) => p.trim()));
for (const p of parts)
  if (!['demo', 'wide', 'server'].includes(p)) throw new Error(`unknown part ${p}\n${USAGE}`);
const servers = args.server.split(',').map((m) => m.trim()) as ServerMode[];
const insertRows = Math.min(rows, 200_000);
const log = (...m: unknown[]) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m.join(' ')}\n`);

const truncate = (engine: EngineName, t: string) =>
  engine === 'sqlite' ? `DELETE FROM ${t}` : engine === 'postgres' ? `TRUNCATE ${t}` : `TRUNCATE TABLE ${t}`;
const TRUNCATE: Record<EngineName, string> = {
  mariadb: truncate('mariadb', 'hired_employees'),
  postgres: truncate('postgres', 'hired_employees'),
  sqlite: truncate('sqlite', 'hired_employees'),
};
const LOAD_TARGET = { mariadb: 1.25, postgres: 1.25, sqlite: 1.5 };
/** Issue 16's targets for the wide table, on every engine. */
const WIDE = { load: 1.3, backup: 4, restore: 1.2, rssMB: 250 };
/** One running server through load, backup and restore of the demo rows: peak RSS under this. */
const SERVER_MB = 200;

// The code every child runs, copied once: others rebuilding dist/ meanwhile cannot change it mid-run.
snapshotDist();
log(`data set: ${rows} rows (+${insertRows} payload rows) in ${args.dir}`);
const data = await makeDataset(join(args.dir, `rows-${rows}`), rows, insertRows);
let wideData: WideDataset | undefined;
if (parts.has('wide')) {
  log(`wide data set: ${wideRows} rows of ${WIDE_TABLE} (bench/wide.yaml)`);
  wideData = await makeWideDataset(join(args.dir, `wide-${wideRows}`), wideRows);
  log(
    `wide data set: ${(wideData.bytes / 1e6).toFixed(0)} MB, ${(wideData.nullShare * 100).toFixed(1)} % NULL in the nullable columns`,
  );
}
const measures: Measure[] = [];
const memory: MemoryLine[] = [];
const serverLines: ServerLine[] = [];
const fileSizes: Parameters<typeof sizes>[0] = [];

for (const engine of engines) {
  const side = sideFor(engine, args.dir);
  await side.create();
  try {
    const env = { DATABASE_URL: side.url, STORAGE_URL: `file:${data.storage}` };
    await child('setup', env);
    await child('setup', { ...env, DATABASE_URL: baseUrl(side) });
    if (parts.has('demo')) await benchEngine(side, data);
    if (wideData) await benchWide(side, wideData);
    if (parts.has('server')) await benchServer(side, data);
  } finally {
    // Each engine's lines as soon as they exist: a long run interrupted later keeps them.
    log(
      `\n${table(measures.filter((x) => x.engine === engine))}\n${memoryTable(memory.filter((x) => x.engine === engine))}\n${serverTable(
        serverLines.filter((x) => x.engine === engine),
        SERVER_MB,
      )}`,
    );
    await side.drop();
  }
}

async function benchEngine(side: Side, data: Dataset) {
  const { engine } = side;
  const env = { DATABASE_URL: side.url, STORAGE_URL: `file:${data.storage}` };
  const m = (op: string, n: number, extra: Partial<Measure> = {}): Measure => {
    const found = measures.find((x) => x.op === op && x.engine === engine);
    if (found) return found;
    const made: Measure = { op, engine, rows: n, dp: [], base: [], rss: [], ...extra };
    measures.push(made);
    return made;
  };
  const load = m('historic load, empty table', data.goodRows, { target: LOAD_TARGET[engine] });
  const reload = m('historic reload (upsert over full table)', data.goodRows, {
    note: 'baseline: load into empty table',
  });
  const deflate = m('backup to Avro, deflate', data.goodRows, engine === 'mariadb' ? { target: 4 } : {});
  const nullCodec = m('backup to Avro, null codec', data.goodRows);
  const restore = m('restore from Avro', data.goodRows, engine === 'sqlite' ? {} : { target: 1.1 });
  const quarter = m('GET /hired_by_quarter/2021', 1, { target: 1.2, underSeconds: 0.5, note: 'per call' });
  const above = m('GET /departments_above_mean/2021', 1, {
    target: 1.2,
    underSeconds: 0.5,
    note: 'per call',
  });
  // A running server's rate: the same rows a second time, after the table is emptied. The first pass
  // (a fresh process: its code not yet compiled by the JIT, its pool not yet connected) is a line of
  // its own, without a target.
  const payloadCold = m('payload inserts, the same on a fresh server (its first pass)', data.inserts.rows, {
    note: 'informative',
  });
  const payload = m('payload inserts, 1000-row batches, HTTP x4', data.inserts.rows, {
    target: 1 / 0.7,
    note: 'target ≥ 0.7x rows/s',
  });
  const dumpFile = join(args.dir, `${engine}.dump.sql`);
  const queries = await metricsSql(side);

  for (let run = 1; run <= runs; run++) {
    log(`${engine} run ${run}/${runs}: load`);
    await side.sql('dp', TRUNCATE[engine]);
    const first = await child('load', env);
    load.dp.push(first.ms);
    load.rss.push(first.rssMB);
    const second = await child('load', env);
    reload.dp.push(second.ms);
    reload.rss.push(second.rssMB);
    await side.sql('base', TRUNCATE[engine]);
    const baseLoad = await side.load(data.cleanCsv);
    load.base.push(baseLoad);
    reload.base.push(baseLoad);
    await expectRows(side, 'dp', data.goodRows);
    await expectRows(side, 'base', data.rows);

    log(`${engine} run ${run}/${runs}: backup, restore`);
    const bn = await child('backup-null', env);
    const bd = await child('backup-deflate', env);
    const dumpMs = await side.dump(dumpFile);
    nullCodec.dp.push(bn.ms);
    nullCodec.rss.push(bn.rssMB);
    deflate.dp.push(bd.ms);
    deflate.rss.push(bd.rssMB);
    nullCodec.base.push(dumpMs);
    deflate.base.push(dumpMs);
    if (run === 1) {
      const dumpBytes = sizeOf(dumpFile);
      fileSizes.push({
        engine,
        what: 'Avro deflate',
        bytes: (bd.result as { bytes: number }).bytes,
        dumpBytes,
      });
      fileSizes.push({ engine, what: 'Avro null', bytes: (bn.result as { bytes: number }).bytes, dumpBytes });
    }
    const rs = await child('restore', env);
    restore.dp.push(rs.ms);
    restore.rss.push(rs.rssMB);
    restore.base.push(await side.restore(dumpFile));
    await expectRows(side, 'dp', data.goodRows);
    await expectRows(side, 'base', data.rows);

    log(`${engine} run ${run}/${runs}: metrics, payload inserts`);
    const server = await serve(env);
    try {
      quarter.dp.push(median(await httpMetrics(server.port, '/hired_by_quarter/2021')));
      above.dp.push(median(await httpMetrics(server.port, '/departments_above_mean/2021')));
      quarter.base.push(await clientQuery(side, queries.quarter));
      above.base.push(await clientQuery(side, queries.above));
      await side.sql('dp', TRUNCATE[engine]);
      payloadCold.dp.push(await inserts(server.port, data.inserts.bodies));
      await expectRows(side, 'dp', data.inserts.rows);
      await side.sql('dp', TRUNCATE[engine]);
      payload.dp.push(await inserts(server.port, data.inserts.bodies));
    } finally {
      payload.rss.push((await server.stop()).rssMB);
    }
    await expectRows(side, 'dp', data.inserts.rows);
    await side.sql('base', TRUNCATE[engine]);
    const replay = await side.replay(data.inserts.sql[engine]);
    payload.base.push(replay);
    payloadCold.base.push(replay);
    await expectRows(side, 'base', data.inserts.rows);
  }

  if (args['skip-5x']) return;
  log(`${engine}: load, backup, restore at 5x (${rows * 5} rows)`);
  const big = await makeDataset(join(args.dir, `rows-${rows * 5}`), rows * 5, 1000);
  const bigEnv = { ...env, STORAGE_URL: `file:${big.storage}` };
  await side.sql('dp', TRUNCATE[engine]);
  for (const [op, of] of [
    ['load', load],
    ['backup-deflate', deflate],
    ['restore', restore],
  ] as const) {
    const r = await child(op, bigEnv);
    memory.push({ engine, op, rss1: Math.round(median(of.rss)), rss5: r.rssMB, rows5: big.goodRows });
    log(`${engine} 5x ${op}: ${(r.ms / 1000).toFixed(1)} s, ${r.rssMB} MB`);
  }
}

/**
 * The wide table: dataport's load, backup (deflate) and restore, each in a fresh process, against the
 * engine's loader on the same file, its dump, and replaying that dump.
 */
async function benchWide(side: Side, wide: WideDataset) {
  const { engine } = side;
  const env = { DATABASE_URL: side.url, STORAGE_URL: `file:${wide.storage}`, CATALOGUE: WIDE_CATALOGUE };
  await child('migrate', env);
  await child('migrate', { ...env, DATABASE_URL: baseUrl(side) });
  const def = wideTable();
  const m = (op: string, target: number): Measure => {
    const made: Measure = {
      op,
      engine,
      rows: wide.rows,
      dp: [],
      base: [],
      rss: [],
      target,
      maxRssMB: WIDE.rssMB,
    };
    measures.push(made);
    return made;
  };
  const load = m('wide: historic load, empty table', WIDE.load);
  const backup = m('wide: backup to Avro, deflate', WIDE.backup);
  const restore = m('wide: restore from Avro', WIDE.restore);
  const dumpFile = join(args.dir, `${engine}.wide.dump.sql`);
  const expect = (which: 'dp' | 'base') => expectRows(side, which, wide.rows, WIDE_TABLE);
  for (let run = 1; run <= runs; run++) {
    log(`${engine} wide run ${run}/${runs}: load`);
    await side.sql('dp', truncate(engine, WIDE_TABLE));
    const l = await child('load', env, WIDE_TABLE);
    const loaded = (l.result as { loaded: number; rejected: number }).loaded;
    if (loaded !== wide.rows)
      throw new Error(
        `${engine} wide: dataport loaded ${loaded} of ${wide.rows} rows: ${JSON.stringify(l.result)}`,
      );
    load.dp.push(l.ms);
    load.rss.push(l.rssMB);
    await side.sql('base', truncate(engine, WIDE_TABLE));
    load.base.push(await side.load(wide.csv, WIDE_TABLE, mariadbWideColumns(def)));
    await expect('dp');
    await expect('base');
    if (run === 1) await sameContent(side);

    log(`${engine} wide run ${run}/${runs}: backup, restore`);
    const b = await child('backup-deflate', env, WIDE_TABLE);
    backup.dp.push(b.ms);
    backup.rss.push(b.rssMB);
    backup.base.push(await side.dump(dumpFile, WIDE_TABLE));
    if (run === 1)
      fileSizes.push({
        engine,
        what: 'wide: Avro deflate',
        bytes: (b.result as { bytes: number }).bytes,
        dumpBytes: sizeOf(dumpFile),
      });
    const r = await child('restore', env, WIDE_TABLE);
    restore.dp.push(r.ms);
    restore.rss.push(r.rssMB);
    restore.base.push(await side.restore(dumpFile, WIDE_TABLE));
    await expect('dp');
    await expect('base');
    if (run === 1) await sameContent(side);
  }
}

/**
 * Both databases hold the same wide rows: per column, the count of values and a digest-like aggregate,
 * compared as text. SQLite's `.import` has no NULL (an empty field stays ''), so there the baseline's
 * empty strings count as NULLs.
 */
async function sameContent(side: Side) {
  const def = wideTable();
  const q = side.engine === 'mariadb' ? '`' : '"';
  const present = (c: string) =>
    side.engine === 'sqlite' ? `SUM(${q}${c}${q} IS NOT NULL AND ${q}${c}${q} <> '')` : `COUNT(${q}${c}${q})`;
  const text = (c: string) =>
    side.engine === 'postgres'
      ? `${q}${c}${q}::text`
      : side.engine === 'mariadb'
        ? `CAST(${q}${c}${q} AS CHAR)`
        : `CAST(${q}${c}${q} AS TEXT)`;
  const parts = def.columns.flatMap((c) => [present(c.name), `MAX(LENGTH(${text(c.name)}))`]);
  const sql = `SELECT ${parts.join(', ')} FROM ${WIDE_TABLE}`;
  const [dp, base] = [await side.query('dp', sql), await side.query('base', sql)];
  if (dp !== base)
    throw new Error(
      `${side.engine} wide: dataport's rows and the baseline's differ:\n  dp   ${dp}\n  base ${base}`,
    );
}

/** Memory across operations: one running server loads, backs up and restores the demo rows. */
async function benchServer(side: Side, data: Dataset) {
  const { engine } = side;
  const env = { DATABASE_URL: side.url, STORAGE_URL: `file:${data.storage}` };
  const fresh = (op: string) => {
    const found = measures.find((x) => x.engine === engine && x.op === op);
    return found?.rss.length ? median(found.rss) : undefined;
  };
  for (const mode of servers) {
    const line: ServerLine = {
      engine,
      mode,
      steps: [],
      peakMB: [],
      treeMB: [],
      fresh: {
        load: fresh('historic load, empty table'),
        backup: fresh('backup to Avro, deflate'),
        restore: fresh('restore from Avro'),
      },
    };
    serverLines.push(line);
    // A running server's figure does not need every run: the dist server, the one with a target, runs
    // up to 3 times; npm start (informative) once.
    const times = mode === 'dist' ? Math.min(runs, 3) : 1;
    for (let run = 1; run <= times; run++) {
      log(`${engine} server (${mode}) run ${run}/${times}: load, backup, restore`);
      await side.sql('dp', TRUNCATE[engine]);
      const r = await serverMemory(mode, env);
      line.steps.push(r.steps);
      line.peakMB.push(r.peakMB);
      line.treeMB.push(r.treeMB);
      log(
        `${engine} server (${mode}): ${r.steps.map((s) => `${s.op} ${(s.ms / 1000).toFixed(1)} s → ${s.peakMB} MB`).join('; ')}; tree ${r.treeMB} MB`,
      );
      await expectRows(side, 'dp', data.goodRows);
    }
  }
}

/** The same SQL in the database client: (21 runs − 1 run) ÷ 20, so the client's start is not counted. */
async function clientQuery(side: Side, sql: string): Promise<number> {
  const one = await side.sql('dp', `${sql};`);
  const many = await side.sql('dp', `${sql};\n`.repeat(21));
  return (many - one) / 20;
}

/**
 * `which` holds n rows, and the baseline's table has dataport's indexes: a baseline that lost them (an
 * SQLite `.dump TABLE` once did) loads, restores and inserts several times faster, and every ratio lies.
 */
async function expectRows(side: Side, which: 'dp' | 'base', n: number, t = 'hired_employees') {
  const found = await side.count(which, t);
  if (found !== n) throw new Error(`${side.engine} ${which}: expected ${n} rows in ${t}, found ${found}`);
  const [dp, base] = [await side.indexes('dp', t), await side.indexes('base', t)];
  if (dp.join() !== base.join())
    throw new Error(
      `${side.engine}: the baseline's indexes on ${t} [${base}] differ from dataport's [${dp}]`,
    );
}

const report = [
  `dataport benchmark: ${rows} employee rows (~1% bad), ${runs} run(s), medians; payload inserts: ${insertRows} rows` +
    (wideData
      ? `; wide table: ${wideRows} rows, ${(wideData.nullShare * 100).toFixed(0)} % NULL in its nullable columns`
      : ''),
  '',
  table(measures),
  '',
  memory.length ? memoryTable(memory) : '(5x memory runs skipped)',
  '',
  serverLines.length ? serverTable(serverLines, SERVER_MB) : '(server memory part skipped)',
  '',
  sizes(fileSizes),
].join('\n');
process.stdout.write(`${report}\n`);
if (args.markdown) writeFileSync(args.markdown, `${report}\n`);
if (args.json)
  writeFileSync(
    args.json,
    JSON.stringify({ rows, wideRows, runs, measures, memory, serverLines, fileSizes }, null, 2),
  );
