import { isIP } from 'node:net';
import { DEMO_CATALOGUE } from './tables/catalogue.js';

export interface Config {
  databaseUrl: string;
  storageUrl: string;
  storageEndpoint?: string;
  storageRegion?: string;
  host: string;
  port: number;
  apiToken?: string;
  migrateOnStart: boolean;
  logLevel: string;
  bodyLimit: number;
  /** How long a SIGTERM waits for requests in flight before the process exits anyway. */
  shutdownGraceMs: number;
  /** How long a client may take to send a whole request (headers and body); 0 turns the limit off. */
  requestTimeoutMs: number;
  /** Historic loads, backups and restores running at once in this process, over all tables. */
  maxHeavyOperations: number;
  /** GOOGLE_CLOUD_PROJECT: when set, request logs carry Cloud Logging's trace field. */
  googleCloudProject?: string;
  /** CATALOGUE: the table catalogue file (.yaml, .yml, .json); the shipped demo catalogue by default. */
  catalogue: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const DATABASE_SCHEMES = /^(sqlite:|mysql:\/\/|mariadb:\/\/|postgres:\/\/|postgresql:\/\/)/;
const STORAGE_SCHEMES = /^(file:|memory:|gs:\/\/|s3:\/\/)/;

/**
 * Reads the environment once, at start. Every bad variable is collected, so one message names them
 * all; the result is frozen.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const problems: string[] = [];
  const text = (name: string, fallback?: string) => {
    const value = env[name];
    return value === undefined || value === '' ? fallback : value;
  };
  const databaseUrl = text('DATABASE_URL', 'sqlite:./data/dataport.sqlite')!;
  if (!DATABASE_SCHEMES.test(databaseUrl))
    problems.push('DATABASE_URL must start with sqlite:, mysql://, mariadb://, postgres:// or postgresql://');
  const storageUrl = text('STORAGE_URL', 'file:./storage')!;
  if (!STORAGE_SCHEMES.test(storageUrl)) problems.push('STORAGE_URL must start with file:, gs:// or s3://');
  const host = text('HOST', '127.0.0.1')!;
  const port = integer('PORT', text('PORT', '8080')!, 0, 65535, problems);
  const bodyLimit = integer(
    'MAX_BODY_BYTES',
    text('MAX_BODY_BYTES', String(5 * 1024 * 1024))!,
    1024,
    1024 ** 3,
    problems,
  );
  const shutdownGraceMs = integer(
    'SHUTDOWN_GRACE_MS',
    text('SHUTDOWN_GRACE_MS', '10000')!,
    0,
    3_600_000,
    problems,
  );
  // Bounds the time to *receive* a request (a slow or stalled upload), not the time to answer it: a
  // load that runs for minutes after its request arrived is not cut off.
  const requestTimeoutMs = integer(
    'REQUEST_TIMEOUT_MS',
    text('REQUEST_TIMEOUT_MS', '60000')!,
    0,
    3_600_000,
    problems,
  );
  const maxHeavyOperations = integer(
    'MAX_HEAVY_OPERATIONS',
    text('MAX_HEAVY_OPERATIONS', '2')!,
    1,
    64,
    problems,
  );
  const apiToken = text('API_TOKEN');
  if (apiToken !== undefined && apiToken.length < 16)
    problems.push('API_TOKEN must be at least 16 characters');
  if (apiToken === undefined && !isLoopback(host)) {
    problems.push(
      `HOST is ${host} but API_TOKEN is unset: set API_TOKEN before listening beyond this machine`,
    );
  }
  const migrate = text('MIGRATE_ON_START', 'true')!.toLowerCase();
  if (!['true', 'false', '1', '0'].includes(migrate)) problems.push('MIGRATE_ON_START must be true or false');
  const catalogue = text('CATALOGUE', DEMO_CATALOGUE)!;
  if (!/\.(ya?ml|json)$/i.test(catalogue))
    problems.push(`CATALOGUE must name a .yaml, .yml or .json file, got '${catalogue}'`);
  const logLevel = text('LOG_LEVEL', 'info')!;
  if (!LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LEVELS.join(', ')}`);
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze({
    databaseUrl,
    storageUrl,
    storageEndpoint: text('STORAGE_ENDPOINT'),
    storageRegion: text('STORAGE_REGION'),
    host,
    port,
    apiToken,
    migrateOnStart: migrate === 'true' || migrate === '1',
    logLevel,
    bodyLimit,
    shutdownGraceMs,
    requestTimeoutMs,
    maxHeavyOperations,
    googleCloudProject: text('GOOGLE_CLOUD_PROJECT'),
    catalogue,
  });
}

function integer(name: string, value: string, min: number, max: number, problems: string[]): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max))
    problems.push(`${name} must be a whole number from ${min} to ${max}, got '${value}'`);
  return n;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
