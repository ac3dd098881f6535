/**
 * One dataport operation in a process of its own, so that its peak RSS is the operation's alone.
 * It runs the compiled dist/ (as `npm run start:prod` and the container do), not the sources under
 * tsx, whose loader thread and helpers would add memory and CPU that production never pays.
 * Plain JavaScript for that reason: `npm run bench` builds dist/ first.
 * Usage: node bench/child.mjs setup|migrate|load|backup-deflate|backup-null|restore|serve [TABLE]
 * with DATABASE_URL and STORAGE_URL (and CATALOGUE for another catalogue) in the environment; TABLE is
 * hired_employees unless given. BENCH_DIST names the compiled tree to run (the bench's own copy of
 * dist/, see child-runner.ts; ../dist by default). Prints one JSON line:
 * { ms, rssMB, result } (serve prints { port } first, then its line when stdin closes).
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pino from 'pino';

const dist = process.env.BENCH_DIST
  ? pathToFileURL(`${process.env.BENCH_DIST}/`).href
  : new URL('../dist/', import.meta.url).href;
const [
  { buildApp },
  { loadConfig },
  { closeContext, openContext },
  { backupTable, restoreTable },
  { loadHistoric },
] = await Promise.all(
  [
    'app.js',
    'config.js',
    'open.js',
    'modules/backups/backups.service.js',
    'modules/loads/loads.service.js',
  ].map((f) => import(new URL(f, dist).href)),
);

const op = process.argv[2];
const tableName = process.argv[3] ?? 'hired_employees';
const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent', MIGRATE_ON_START: 'true' });
const ctx = await openContext(config, { log: pino({ level: 'silent' }) });

/** Peak resident set size of this process so far, in MB, as the OS counts it (getrusage). */
const rssMB = () => Math.round(process.resourceUsage().maxRSS / 1024);

/** @param {() => Promise<unknown>} fn */
async function timed(fn) {
  const started = performance.now();
  const result = await fn();
  return { ms: performance.now() - started, result };
}

/** @type {{ ms: number, result: unknown }} */
let out;
switch (op) {
  case 'setup':
    out = await timed(async () => [await loadHistoric(ctx, 'departments'), await loadHistoric(ctx, 'jobs')]);
    break;
  case 'migrate':
    // openContext has migrated and created the catalogue's tables.
    out = { ms: 0, result: null };
    break;
  case 'load':
    out = await timed(() => loadHistoric(ctx, tableName));
    break;
  case 'backup-deflate':
  case 'backup-null':
    out = await timed(() =>
      backupTable(ctx, tableName, { codec: op === 'backup-null' ? 'null' : 'deflate' }),
    );
    break;
  case 'restore':
    out = await timed(() => restoreTable(ctx, tableName));
    break;
  case 'serve': {
    const app = await buildApp(config, ctx);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' ? address?.port : 0 })}\n`);
    const started = performance.now();
    // The parent closes our stdin when it is done with the server.
    await new Promise((resolve) => process.stdin.on('end', resolve).on('close', resolve).resume());
    await app.close();
    out = { ms: performance.now() - started, result: null };
    break;
  }
  default:
    throw new Error(`unknown operation ${op}`);
}
await closeContext(ctx);
process.stdout.write(`${JSON.stringify({ ...out, rssMB: rssMB() })}\n`);
