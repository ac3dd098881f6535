/**
 * DATABASE_URL parsing for the server engines, and redaction: a password never leaves this file in
 * a description, a log line or an error message.
 */

export type ServerKind = 'mysql' | 'postgres';

/** TLS as the URL asks for it: off, encrypted without checking the certificate, or fully verified. */
export type SslMode = 'disable' | 'require' | 'verify';

export interface ServerUrl {
  kind: ServerKind;
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  ssl: SslMode;
  /** A CA bundle file (PEM) to verify the server's certificate with, instead of the system's. */
  sslCaFile?: string;
  /** The URL with the password replaced by `***`: safe for logs. */
  redacted: string;
}

const SCHEMES: Record<string, { kind: ServerKind; port: number }> = {
  'mysql:': { kind: 'mysql', port: 3306 },
  'mariadb:': { kind: 'mysql', port: 3306 },
  'postgres:': { kind: 'postgres', port: 5432 },
  'postgresql:': { kind: 'postgres', port: 5432 },
};

// `ssl=` in our own words; `sslmode=` as libpq spells it, so a PostgreSQL URL copied from elsewhere works.
const SSL_VALUES: Record<string, SslMode> = {
  false: 'disable',
  disable: 'disable',
  '0': 'disable',
  true: 'verify',
  '1': 'verify',
  'verify-full': 'verify',
  'verify-ca': 'verify',
  verify: 'verify',
  require: 'require',
  'no-verify': 'require',
};

/**
 * Reads `mysql://user:pass@host:port/db?ssl=true` (also `mariadb://`, `postgres://`, `postgresql://`).
 * Query options: `ssl` (or `sslmode`) = false|disable | require|no-verify | true|verify|verify-full|verify-ca,
 * and `sslrootcert` (or `sslca`) = a CA file. Unknown options are refused rather than ignored.
 * @throws Error whose message never contains the password (nor the URL itself)
 */
export function parseServerUrl(text: string): ServerUrl {
  const scheme = /^[a-z]+:/i.exec(text)?.[0].toLowerCase() ?? '';
  const known = SCHEMES[scheme];
  if (!known) throw new Error(`DATABASE_URL scheme not supported: ${scheme || '(none)'}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Node's own error carries the whole input (password included) as `input`: never rethrow it.
    throw new Error(`DATABASE_URL is not a valid URL: ${redactText(text)}`);
  }
  const database = decode(url.pathname.replace(/^\//, ''));
  if (!url.hostname) throw new Error(`DATABASE_URL needs a host: ${redactUrl(url)}`);
  if (!database || database.includes('/'))
    throw new Error(`DATABASE_URL needs a database name as its path, e.g. ${scheme}//user@host/dataport`);
  let ssl: SslMode = 'disable';
  let sslCaFile: string | undefined;
  for (const [key, value] of url.searchParams) {
    if (key === 'ssl' || key === 'sslmode') {
      const mode = SSL_VALUES[value.toLowerCase()];
      if (!mode)
        throw new Error(
          `DATABASE_URL ${key}=${value} is not understood; use false, require or true (verify)`,
        );
      ssl = mode;
    } else if (key === 'sslrootcert' || key === 'sslca') {
      sslCaFile = value;
    } else {
      throw new Error(`DATABASE_URL option '${key}' is not understood; known: ssl, sslmode, sslrootcert`);
    }
  }
  if (sslCaFile && ssl === 'disable') ssl = 'verify';
  const port = url.port ? Number(url.port) : known.port;
  return {
    kind: known.kind,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    user: decode(url.username) || (known.kind === 'postgres' ? 'postgres' : 'root'),
    password: url.password ? decode(url.password) : undefined,
    database,
    ssl,
    sslCaFile,
    redacted: redactUrl(url),
  };
}

/** A URL with its password replaced by `***`. */
export function redactUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password) copy.password = '***';
  return copy.href;
}

/** Best effort for text that may not even parse as a URL: hides whatever sits between `user:` and `@`. */
export function redactText(text: string): string {
  return text.replace(/(\/\/[^/:@]*:)[^/?#]*@/, '$1***@');
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
