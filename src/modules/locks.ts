import { AppError } from '../errors.js';

/**
 * One long operation (historic load, restore, backup) per table at a time in this process; a second
 * one gets 409 table_busy at once instead of queueing behind a load that may take minutes. Short
 * payload inserts are not locked: the database keeps them consistent.
 *
 * Over all tables, at most `max` long operations run at once (MAX_HEAVY_OPERATIONS): one more gets
 * 503 server_busy (with Retry-After) rather than another connection, another file stream and
 * another batch buffer, so that callers cannot exhaust the process's memory or the database pool.
 * Both locks live in this process only: with several instances, each has its own.
 */
export class TableLocks {
  private readonly held = new Map<string, string>();

  constructor(private readonly max = Infinity) {}

  async run<T>(table: string, operation: string, fn: () => Promise<T>): Promise<T> {
    const current = this.held.get(table);
    if (current)
      throw new AppError('table_busy', `${table} is busy with a ${current}; try again when it has finished`);
    if (this.held.size >= this.max)
      throw new AppError(
        'server_busy',
        `${this.held.size} loads, backups or restores are already running (the limit, MAX_HEAVY_OPERATIONS); try again shortly`,
      );
    this.held.set(table, operation);
    try {
      return await fn();
    } finally {
      this.held.delete(table);
    }
  }
}
