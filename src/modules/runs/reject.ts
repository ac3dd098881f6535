import { clipRaw, type RejectRecord } from '../rejects/rejects.repo.js';
import type { Violation } from '../../tables/validate.js';

/** A refused row as the reject log keeps it: where it came from (a CSV line or a batch index) and why. */
export function rejectRecord(
  loadId: string,
  table: string,
  source: string,
  violation: Violation,
  raw: string,
  createdAt: string,
  where: { line?: number; index?: number },
): RejectRecord {
  return {
    load_id: loadId,
    table_name: table,
    source,
    line: where.line ?? null,
    row_index: where.index ?? null,
    column_name: violation.column,
    reason: violation.reason,
    message: violation.message,
    raw: clipRaw(raw),
    created_at: createdAt,
  };
}
