const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses ISO-8601 with a timezone designator into a UTC ISO string with milliseconds, or null.
 * A value without a zone is refused rather than guessed. Digits past the millisecond are truncated,
 * since every engine and Avro's timestamp-millis keep milliseconds. Years 1000..9999 only: the range
 * every engine's datetime type stores.
 */
export function parseIsoDatetime(value: string): string | null {
  const m = ISO.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac = '', , sign, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  if (sign && (Number(oh) > 23 || Number(om) > 59)) return null;
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  const offset = sign ? (sign === '+' ? 1 : -1) * (Number(oh) * 60 + Number(om)) : 0;
  const time = Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(s), ms) - offset * 60_000;
  const utc = new Date(time);
  const utcYear = utc.getUTCFullYear();
  if (utcYear < 1000 || utcYear > 9999) return null;
  return utc.toISOString();
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
