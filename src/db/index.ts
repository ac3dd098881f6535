import type { Engine } from './engine.js';
import { createSqliteEngine } from './sqlite.js';
import { parseServerUrl } from './url.js';

/**
 * The engine a DATABASE_URL names. `sqlite:PATH` is the embedded default; `mysql://` and `mariadb://`
 * (MariaDB 10.6+, MySQL 8) and `postgres://` and `postgresql://` (PostgreSQL 13+) take `?ssl=`.
 * Each server driver is loaded only when its engine is used.
 * @throws Error naming the problem (the config loader reports it at start); never the password
 */
export async function createEngine(url: string): Promise<Engine> {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (!file) throw new Error('DATABASE_URL sqlite: needs a file path, e.g. sqlite:./data/dataport.sqlite');
    return createSqliteEngine(file);
  }
  const target = parseServerUrl(url);
  if (target.kind === 'mysql') return (await import('./mysql.js')).createMysqlEngine(target);
  return (await import('./postgres.js')).createPostgresEngine(target);
}
