/**
 * `npm run bench -- [--rows N] [--runs N] [--engines mariadb,postgres,sqlite] [--json FILE]
 *   [--markdown FILE] [--quick] [--skip-5x] [--dir DIR]`
 * Measures dataport against each engine's own bulk tools on the same files, in the same run, and
 * prints one table of medians and ratios (see bench/RESULTS.md). Timings live here, never in tests.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { baseUrl, sideFor, sizeOf, type Side } from './baselines.js';
import { child, httpMetrics, inserts, metricsSql, serve } from './child-runner.js';
import { makeDataset, type Dataset, type EngineName } from './dataset.js';
import { median, memoryTable, sizes, table, type Measure, type MemoryLine } from './report.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    engines: { type: 'string', default: 'mariadb,postgres,sqlite' },
    json: { type: 'string' },
    markdown: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'skip-5x': { type: 'boolean', default: false },
    dir: { type: 'string', default: join(tmpdir(), 'dataport-bench') },
  },
});
const rows = args.quick ? 20_000 : Number(args.rows);
const runs = args.quick ? 1 : Number(args.runs);
const engines = args.engines.split(',').map((e) => e.trim()) as EngineName[];
const insertRows = Math.min(rows, 200_000);
const log = (...m: unknown[]) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m.join(' ')}\n`);

const TRUNCATE: Record<EngineName, string> = {
  mariadb: 'TRUNCATE TABLE hired_employees',
  postgres: 'TRUNCATE hired_employees',
  sqlite: 'DELETE FROM hired_employees',
};
const LOAD_TARGET = { mariadb: 1.25, postgres: 1.25, sqlite: 1.5 };

log(`data set: ${rows} rows (+${insertRows} payload rows) in ${args.dir}`);
const data = await makeDataset(join(args.dir, `rows-${rows}`), rows, insertRows);
const measures: Measure[] = [];
const memory: MemoryLine[] = [];
const fileSizes: Parameters<typeof sizes>[0] = [];

for (const engine of engines) {
  const side = sideFor(engine, args.dir);
  await side.create();
  try {
    await benchEngine(side, data);
  } finally {
    // Each engine's lines as soon as they exist: a long run interrupted later keeps them.
    log(
      `\n${table(measures.filter((x) => x.engine === engine))}\n${memoryTable(memory.filter((x) => x.engine === engine))}`,
    );
    await side.drop();
  }
}

async function benchEngine(side: Side, data: Dataset) {
  const { engine } = side;
  const env = { DATABASE_URL: side.url, STORAGE_URL: `file:${data.storage}` };
  await child('setup', env);
  await child('setup', { ...env, DATABASE_URL: baseUrl(side) });
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
async function expectRows(side: Side, which: 'dp' | 'base', n: number) {
  const found = await side.count(which);
  if (found !== n)
    throw new Error(`${side.engine} ${which}: expected ${n} rows in hired_employees, found ${found}`);
  const [dp, base] = [await side.indexes('dp'), await side.indexes('base')];
  if (dp.join() !== base.join())
    throw new Error(`${side.engine}: the baseline's indexes [${base}] differ from dataport's [${dp}]`);
}

const report = [
  `dataport benchmark: ${rows} employee rows (~1% bad), ${runs} run(s), medians; payload inserts: ${insertRows} rows`,
  '',
  table(measures),
  '',
  memory.length ? memoryTable(memory) : '(5x memory runs skipped)',
  '',
  sizes(fileSizes),
].join('\n');
process.stdout.write(`${report}\n`);
if (args.markdown) writeFileSync(args.markdown, `${report}\n`);
if (args.json) writeFileSync(args.json, JSON.stringify({ rows, runs, measures, memory, fileSizes }, null, 2));
