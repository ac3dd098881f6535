import type { Kysely } from 'kysely';
import type { Reason } from '../../tables/validate.js';

/** A refused row as the reject log keeps it. */
export interface RejectRecord {
  load_id: string;
  table_name: string;
  source: string;
  /** 1-based line of a CSV file, or null. */
  line: number | null;
  /** 0-based position in a JSON batch or Avro file, or null. */
  row_index: number | null;
  column_name: string | null;
  reason: Reason;
  message: string;
  raw: string;
  created_at: string;
}

const MAX_RAW = 10_000;
const ROWS_PER_STATEMENT = 500; // 11 columns: well under every engine's bind limit

/** The original line or row, cut to a size the log can keep (the cut is marked). */
export function clipRaw(raw: string): string {
  return raw.length > MAX_RAW ? `${raw.slice(0, MAX_RAW)}…[${raw.length - MAX_RAW} more characters]` : raw;
}

export async function insertRejects(db: Kysely<any>, rejects: RejectRecord[]): Promise<void> {
  for (let i = 0; i < rejects.length; i += ROWS_PER_STATEMENT) {
    await db
      .insertInto('dataport_rejects')
      .values(rejects.slice(i, i + ROWS_PER_STATEMENT))
      .execute();
  }
}

export interface RejectQuery {
  table: string;
  loadId?: string;
  limit: number;
  offset: number;
}

/** Newest first, with the total that matches. */
export async function listRejects(db: Kysely<any>, q: RejectQuery) {
  let base = db.selectFrom('dataport_rejects').where('table_name', '=', q.table);
  if (q.loadId) base = base.where('load_id', '=', q.loadId);
  const [{ total }] = await base.select((eb) => eb.fn.countAll().as('total')).execute();
  const rows = await base.selectAll().orderBy('id', 'desc').limit(q.limit).offset(q.offset).execute();
  return { total: Number(total), rows: rows as (RejectRecord & { id: number })[] };
}
