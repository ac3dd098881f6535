/**
 * The one catalogue of error codes and the one code -> HTTP status mapping.
 * Codes are part of the API: add new ones, never rename or reuse one.
 */
export const errorStatus = {
  // caller mistakes
  invalid_request: 400,
  invalid_json: 400,
  invalid_key: 400,
  invalid_year: 400,
  empty_batch: 400,
  batch_too_large: 400,
  unauthorized: 401,
  access_denied: 403,
  unknown_table: 404,
  not_found: 404,
  source_not_found: 404,
  object_not_found: 404,
  backup_not_found: 404,
  table_busy: 409,
  restore_conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  invalid_csv: 422,
  invalid_backup: 422,
  validation_failed: 422,
  // our side or the infrastructure
  internal_error: 500,
  migration_failed: 500,
  database_unavailable: 503,
  database_busy: 503,
  storage_unavailable: 503,
  server_busy: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra, caller-safe data put into the error body (e.g. the rejects of an atomic batch). */
  readonly details?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = errorStatus[code];
    this.details = options.details;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
