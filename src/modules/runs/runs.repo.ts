import type { Kysely } from 'kysely';

export type RunKind = 'historic' | 'payload' | 'restore';

export interface RunTotals {
  rows_read: number;
  loaded: number;
  rejected: number;
}

interface RunInfo {
  id: string;
  table: string;
  kind: RunKind;
  source: string;
}

function runRow(run: RunInfo, status: string, startedAt: string) {
  return {
    id: run.id,
    table_name: run.table,
    kind: run.kind,
    source: run.source,
    status,
    started_at: startedAt,
  };
}

/** Records that a load started, before its own transaction begins, so an interrupted one stays visible. */
export async function startRun(db: Kysely<any>, run: RunInfo) {
  await db
    .insertInto('dataport_loads')
    .values(runRow(run, 'running', new Date().toISOString()))
    .execute();
}

/**
 * Records a short run whole, inside the caller's transaction: a batch insert commits its rows, its
 * rejects and its run together, one commit (one disk flush) instead of three.
 */
export async function recordRun(
  db: Kysely<any>,
  run: RunInfo & { startedAt: string },
  outcome: RunTotals | { error: string },
) {
  const failed = 'error' in outcome;
  await db
    .insertInto('dataport_loads')
    .values({
      ...runRow(run, failed ? 'failed' : 'succeeded', run.startedAt),
      ...(failed ? { error: outcome.error.slice(0, 2000) } : outcome),
      finished_at: new Date().toISOString(),
    })
    .execute();
}

export async function finishRun(db: Kysely<any>, id: string, totals: RunTotals) {
  await db
    .updateTable('dataport_loads')
    .set({ ...totals, status: 'succeeded', finished_at: new Date().toISOString() })
    .where('id', '=', id)
    .execute();
}

export async function failRun(db: Kysely<any>, id: string, error: string) {
  await db
    .updateTable('dataport_loads')
    .set({ status: 'failed', error: error.slice(0, 2000), finished_at: new Date().toISOString() })
    .where('id', '=', id)
    .execute();
}

/** At start-up: runs left 'running' by a killed process were rolled back by the database; say so. */
export async function markInterrupted(db: Kysely<any>): Promise<number> {
  const result = await db
    .updateTable('dataport_loads')
    .set({ status: 'interrupted', finished_at: new Date().toISOString() })
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
