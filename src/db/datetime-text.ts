import { canonicalIsoMillis, fixedUtcMillis } from '../tables/datetime.js';

/**
 * Datetimes as 'YYYY-MM-DD HH:MM:SS.mmm' text both ways, holding UTC: MariaDB (dateStrings, session
 * time zone +00:00) and PostgreSQL (timestamp without time zone, read as text) never apply a zone.
 */
export const spacedDatetimes = {
  encodeDatetime: (iso: string): unknown => iso.slice(0, 23).replace('T', ' '),
  decodeDatetime,
  datetimeMillis(value: unknown): number | undefined {
    // The server writes milliseconds only when they are not zero on PostgreSQL: the short form
    // goes through the decoder.
    if (typeof value === 'string' && value.length === 23) {
      const ms = fixedUtcMillis(value, 32 /* space */);
      if (ms !== undefined) return ms;
    }
    return canonicalIsoMillis(decodeDatetime(value));
  },
};

function decodeDatetime(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?/.exec(String(value));
  if (!m) return String(value);
  return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
}
