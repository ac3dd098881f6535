import { AppError } from '../errors.js';

/**
 * One long operation (historic load, restore, backup) per table at a time in this process; a second
 * one gets 409 table_busy at once instead of queueing behind a load that may take minutes. Short
 * payload inserts are not locked: the database keeps them consistent.
 */
export class TableLocks {
  private readonly held = new Map<string, string>();

  async run<T>(table: string, operation: string, fn: () => Promise<T>): Promise<T> {
    const current = this.held.get(table);
    if (current)
      throw new AppError('table_busy', `${table} is busy with a ${current}; try again when it has finished`);
    this.held.set(table, operation);
    try {
      return await fn();
    } finally {
      this.held.delete(table);
    }
  }
}
