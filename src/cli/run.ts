import type { FastifyError } from 'fastify';
import pino from 'pino';
import { ConfigError, loadConfig, type Config } from '../config.js';
import type { Context } from '../context.js';
import { AppError, type ErrorCode } from '../errors.js';
import { toAppError } from '../http/error-handler.js';
import { closeContext, openContext } from '../open.js';
import { CatalogueError } from '../tables/catalogue-file.js';

/** Exit codes: 0 done, 1 the work failed, 2 the command line is wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * Codes that mean the command line itself is wrong (found before any work starts): they exit 2 like
 * an unknown option. Every other coded error exits 1.
 */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set(['invalid_year', 'unknown_table']);

/** `--catalogue PATH`: overrides CATALOGUE for this command. */
let catalogueOption: string | undefined;
export function useCatalogue(file: string | undefined) {
  catalogueOption = file;
}

/** The environment, with CATALOGUE from --catalogue when it is given. */
export function cliEnv(): NodeJS.ProcessEnv {
  return catalogueOption ? { ...process.env, CATALOGUE: catalogueOption } : process.env;
}

/** A command-line mistake that commander cannot see (e.g. a file type it cannot guess). */
export class UsageError extends Error {}

export interface Io {
  json: boolean;
  out(text: string): void;
}

export function io(json: boolean): Io {
  return { json, out: (text) => process.stdout.write(text) };
}

/** Prints `result` as JSON with --json, else as `text(result)`. */
export function print<T>(io: Io, result: T, text: (r: T) => string) {
  io.out(io.json ? `${JSON.stringify(result, null, 2)}\n` : text(result));
}

/**
 * The env config as the server reads it. Logs go to stderr (stdout is for results), at `warn`
 * unless LOG_LEVEL is set, so that a command prints its result and nothing else.
 */
export function cliConfig(overrides: Partial<Config> = {}): Config {
  const config = loadConfig(cliEnv());
  const logLevel = process.env.LOG_LEVEL ? config.logLevel : 'warn';
  return { ...config, logLevel, ...overrides };
}

/** Opens the context (migrating when MIGRATE_ON_START says so), runs `fn`, always closes. */
export async function withContext<T>(
  fn: (ctx: Context, config: Config) => Promise<T>,
  overrides: Partial<Config> = {},
): Promise<T> {
  const config = cliConfig(overrides);
  const ctx = await openContext(config, {
    log: pino({ level: config.logLevel }, pino.destination({ dest: 2, sync: true })),
  });
  try {
    return await fn(ctx, config);
  } catch (e) {
    throw e instanceof AppError ? e : toAppError(e as FastifyError, ctx.engine);
  } finally {
    await closeContext(ctx);
  }
}

/**
 * Reports an error as `dataport: <code>: <message>` on stderr (with --json also the API's error body
 * on stdout) and answers the exit code.
 */
export function reportError(e: unknown, json: boolean): number {
  if (e instanceof ConfigError || e instanceof CatalogueError) {
    process.stderr.write(`dataport: ${e.message}\n`);
    return EXIT.usage;
  }
  if (e instanceof UsageError) {
    process.stderr.write(`dataport: usage: ${e.message}\n`);
    return EXIT.usage;
  }
  const error =
    e instanceof AppError
      ? e
      : new AppError('internal_error', e instanceof Error ? e.message : String(e), { cause: e });
  process.stderr.write(`dataport: ${error.code}: ${error.message}\n`);
  if (
    error.code === 'internal_error' &&
    error.cause instanceof Error &&
    error.cause.stack &&
    process.env.DEBUG
  ) {
    process.stderr.write(`${error.cause.stack}\n`);
  }
  if (json)
    process.stdout.write(
      `${JSON.stringify({ error: { code: error.code, message: error.message, ...error.details } }, null, 2)}\n`,
    );
  return USAGE_CODES.has(error.code) ? EXIT.usage : EXIT.failed;
}
