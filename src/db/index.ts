import type { Engine } from './engine.js';
import { createSqliteEngine } from './sqlite.js';

/**
 * The engine a DATABASE_URL names. `sqlite:PATH` is the embedded default.
 * @throws Error naming the problem (the config loader reports it at start)
 */
export async function createEngine(url: string): Promise<Engine> {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (!file) throw new Error('DATABASE_URL sqlite: needs a file path, e.g. sqlite:./data/dataport.sqlite');
    return createSqliteEngine(file);
  }
  throw new Error(`DATABASE_URL scheme not supported: ${url.split(':')[0]}`);
}
