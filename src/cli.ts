import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { LosslessNumber, parse as parseLossless } from 'lossless-json';
import type { Progress } from './context.js';
import { migrateToLatest } from './db/migrator.js';
import { loadConfig } from './config.js';
import { AppError } from './errors.js';
import type { AvroCodec } from './modules/backups/avro.js';
import { backupTable, restoreTable } from './modules/backups/backups.service.js';
import { insertBatch } from './modules/inserts/inserts.service.js';
import { loadCsv, loadHistoric } from './modules/loads/loads.service.js';
import {
  departmentsAboveMean,
  hiredByQuarter,
  metricCsv,
  parseYear,
} from './modules/metrics/metrics.service.js';
import { listTableRejects } from './modules/rejects/rejects.service.js';
import { describeTable, listTables } from './modules/tables/tables.service.js';
import {
  aboveMeanText,
  hiredByQuarterText,
  insertText,
  keyValues,
  loadText,
  migrateText,
  rejectsText,
  tablesText,
  tableText,
} from './cli/output.js';
import { progressReport } from './cli/progress.js';
import {
  cliEnv,
  EXIT,
  io,
  print,
  reportError,
  useCatalogue,
  UsageError,
  withContext,
  type Io,
} from './cli/run.js';
import { startServer } from './serve.js';
import { needsExactJson } from './tables/column-types.js';

/** `dataport`: the same services as the HTTP routes, from a shell. See README, "CLI". */

/** Runs `fn` with a progress report labelled `label`; the report stops whatever happens. */
async function withProgress<T>(label: string, fn: (progress: Progress) => Promise<T>): Promise<T> {
  const report = progressReport(label);
  try {
    return await fn(report.progress);
  } finally {
    report.stop();
  }
}

function integer(min: number, max: number) {
  return (value: string) => {
    const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
    if (!(n >= min && n <= max))
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

/** The format of an insert file: --format, else its extension. */
function insertFormat(file: string, format: string | undefined): 'json' | 'csv' {
  if (format === 'json' || format === 'csv') return format;
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.csv') return 'csv';
  throw new UsageError(
    `cannot tell the format of '${file}' from its extension: name it .json or .csv, or pass --format json|csv`,
  );
}

/** A local file to read, or source_not_found. */
async function localFile(file: string) {
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) throw new AppError('source_not_found', `no such file: ${file}`);
  return info;
}

/** Set by `serve`: the process then runs until a signal. */
let serving = false;

export function buildProgram(): Command {
  const program = new Command('dataport');
  let json = false;
  const out = (): Io => io(json);
  program
    .description('Moves tables into SQL and keeps them safe: loads, inserts, backups, metrics.')
    .version('0.1.0')
    .option('--json', 'print results as JSON: the same objects as the HTTP API')
    .option('--catalogue <path>', 'the table catalogue file (.yaml, .yml, .json); overrides CATALOGUE')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(`dataport: usage: ${text.replace(/^error: /, '')}`),
    })
    .hook('preAction', (_program, action) => {
      json = action.optsWithGlobals().json === true;
      useCatalogue(action.optsWithGlobals().catalogue as string | undefined);
    });

  program
    .command('serve')
    .description('start the HTTP server (HOST, PORT, API_TOKEN, ... from the environment)')
    .action(async () => {
      // Logs like src/server.ts: JSON lines on stdout at LOG_LEVEL (default info).
      await startServer(loadConfig(cliEnv()));
      serving = true;
    });

  program
    .command('migrate')
    .description('apply pending schema migrations')
    .action(() =>
      withContext(async (ctx) => print(out(), await migrateToLatest(ctx.migrator), migrateText), {
        migrateOnStart: false,
      }),
    );

  program
    .command('tables')
    .description('the table catalogue as the service reads it, with row counts (one table with its columns)')
    .argument('[table]')
    .action((table: string | undefined) =>
      withContext(async (ctx) => {
        if (table) print(out(), await describeTable(ctx, table), tableText);
        else print(out(), await listTables(ctx), tablesText);
      }),
    );

  program
    .command('load')
    .description(
      "load a table's historic CSV from the bucket (its catalogue `source`; by default database/<table>/historic/<table>.csv), or a local CSV file",
    )
    .argument('<table>')
    .option('--file <path>', 'a local CSV file instead of the bucket')
    .action((table: string, opts: { file?: string }) =>
      withContext(async (ctx) => {
        const result = await withProgress(`load ${table}`, async (progress) => {
          if (!opts.file) return loadHistoric(ctx, table, progress);
          const def = ctx.catalogue.get(table);
          const file = opts.file;
          await localFile(file);
          return ctx.locks.run(def.name, 'file load', () =>
            loadCsv(ctx, def, createReadStream(file), `file:${path.resolve(file)}`, progress),
          );
        });
        print(out(), result, loadText);
      }),
    );

  program
    .command('insert')
    .description(
      "insert 1 to 1000 rows from a JSON file (an array of objects) or a CSV file (in the table's CSV format)",
    )
    .argument('<table>')
    .requiredOption('--file <path>', 'rows.json or rows.csv')
    .addOption(
      new Option('--format <format>', 'the file format, when the extension does not tell').choices([
        'json',
        'csv',
      ]),
    )
    .option('--atomic', 'refuse the whole batch when one row is invalid')
    .action((table: string, opts: { file: string; format?: string; atomic?: boolean }) => {
      const format = insertFormat(opts.file, opts.format);
      return withContext(async (ctx, config) => {
        const info = await localFile(opts.file);
        if (info.size > config.bodyLimit) {
          throw new AppError(
            'payload_too_large',
            `${opts.file} is larger than MAX_BODY_BYTES (${config.bodyLimit}); use load --file for large files`,
          );
        }
        const text = await readFile(opts.file, 'utf8');
        let body: unknown = text;
        if (format === 'json') {
          try {
            body = JSON.parse(text);
            // Every digit of a bigint or decimal, as the HTTP route reads it (src/http/json.ts).
            if (needsExactJson(ctx.catalogue.get(table)))
              body = parseLossless(text, null, (value) => new LosslessNumber(value));
          } catch (e) {
            throw new AppError('invalid_json', `${opts.file} is not valid JSON: ${(e as Error).message}`, {
              cause: e,
            });
          }
        }
        const source = `file:${path.resolve(opts.file)}`;
        print(
          out(),
          await insertBatch(ctx, table, body, { format, atomic: opts.atomic === true, source }),
          insertText,
        );
      });
    });

  program
    .command('backup')
    .description('write an Avro backup of a table to the bucket')
    .argument('<table>')
    .addOption(new Option('--codec <codec>', 'Avro block compression').choices(['null', 'deflate', 'snappy']))
    .action((table: string, opts: { codec?: AvroCodec }) =>
      withContext(async (ctx) => {
        const result = await withProgress(`backup ${table}`, (progress) =>
          backupTable(ctx, table, { codec: opts.codec, progress }),
        );
        print(out(), result, keyValues);
      }),
    );

  program
    .command('restore')
    .description("replace a table's rows with a backup (the newest, or --key)")
    .argument('<table>')
    .option('--key <key>', 'the backup object to restore')
    .action((table: string, opts: { key?: string }) =>
      withContext(async (ctx) => {
        const result = await withProgress(`restore ${table}`, (progress) =>
          restoreTable(ctx, table, { key: opts.key, progress }),
        );
        print(out(), result, keyValues);
      }),
    );

  const metrics = program.command('metrics').description('exploration metrics over the demo tables');
  metrics
    .command('hired-by-quarter')
    .description('hires per department and job in each quarter (UTC) of a year')
    .requiredOption('--year <year>', 'a whole number from 1900 to 2100')
    .option('--csv', 'print CSV with a header line')
    .action((opts: { year: string; csv?: boolean }) => {
      const year = parseYear(opts.year);
      return withContext(async (ctx) => {
        const result = await hiredByQuarter(ctx, year);
        print(out(), result, opts.csv ? metricCsv : hiredByQuarterText);
      });
    });
  metrics
    .command('departments-above-mean')
    .description('departments that hired more than the mean over all departments in a year')
    .requiredOption('--year <year>', 'a whole number from 1900 to 2100')
    .option('--csv', 'print CSV with a header line')
    .action((opts: { year: string; csv?: boolean }) => {
      const year = parseYear(opts.year);
      return withContext(async (ctx) => {
        const result = await departmentsAboveMean(ctx, year);
        print(out(), result, opts.csv ? metricCsv : aboveMeanText);
      });
    });

  program
    .command('rejects')
    .description('the logged rejects of a table, newest first')
    .argument('<table>')
    .option('--load-id <id>', 'only those of one load')
    .option('--limit <n>', 'at most this many (1 to 1000)', integer(1, 1000), 100)
    .option('--offset <n>', 'skip this many', integer(0, Number.MAX_SAFE_INTEGER), 0)
    .action((table: string, opts: { loadId?: string; limit: number; offset: number }) =>
      withContext(async (ctx) => {
        const result = await listTableRejects(ctx, table, {
          loadId: opts.loadId,
          limit: opts.limit,
          offset: opts.offset,
        });
        print(out(), result, rejectsText);
      }),
    );

  return program;
}

/** Parses and runs; answers the exit code (the process keeps running for `serve`). */
export async function run(argv: string[]): Promise<number | 'serving'> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return serving ? 'serving' : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return reportError(e, argv.includes('--json'));
  }
}

const code = await run(process.argv);
if (code !== 'serving') process.exit(code);
