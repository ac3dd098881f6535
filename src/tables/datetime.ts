const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses ISO-8601 with a timezone designator into a UTC ISO string with milliseconds, or null.
 * A value without a zone is refused rather than guessed. Digits past the millisecond are truncated,
 * since every engine and Avro's timestamp-millis keep milliseconds. Years 1000..9999 only: the range
 * every engine's datetime type stores.
 */
export function parseIsoDatetime(value: string): string | null {
  // Almost every value is already UTC with 'Z': checking its digits in place is ~5x cheaper than the
  // regular expression and a Date, which matters at millions of rows (see parseGeneral for the rest).
  if ((value.length === 20 || value.length === 24) && value.charCodeAt(value.length - 1) === 90 /* Z */) {
    const fast = parseUtc(value);
    if (fast !== undefined) return fast;
  }
  return parseGeneral(value);
}

/** 'YYYY-MM-DDTHH:MM:SSZ' or 'YYYY-MM-DDTHH:MM:SS.mmmZ'; undefined when it is neither shape. */
function parseUtc(v: string): string | null | undefined {
  const long = v.length === 24;
  if (!readFields(v, 84 /* T */, long)) return undefined;
  if (FIELDS[0] < 1000 || !realDateTime()) return null;
  return long ? v : `${v.slice(0, 19)}.000Z`;
}

/**
 * Year, month, day, hour, minute, second and millisecond of the fast paths' fixed layout
 * 'YYYY-MM-DD?HH:MM:SS[.mmm]', written by readFields. One scratch array rather than an object a call:
 * these run once a row, millions of times.
 */
const FIELDS = new Int32Array(7);

/**
 * Reads `v` as 'YYYY-MM-DD?HH:MM:SS' (then '.mmm' when `millis`) into FIELDS, where `?` is the character
 * code `separator`; false when a separator or a digit is not where the layout has it.
 */
function readFields(v: string, separator: number, millis: boolean): boolean {
  if (
    v.charCodeAt(4) !== 45 ||
    v.charCodeAt(7) !== 45 ||
    v.charCodeAt(10) !== separator ||
    v.charCodeAt(13) !== 58 ||
    v.charCodeAt(16) !== 58 ||
    (millis && v.charCodeAt(19) !== 46)
  )
    return false;
  FIELDS[0] = digits(v, 0, 4);
  FIELDS[1] = digits(v, 5, 2);
  FIELDS[2] = digits(v, 8, 2);
  FIELDS[3] = digits(v, 11, 2);
  FIELDS[4] = digits(v, 14, 2);
  FIELDS[5] = digits(v, 17, 2);
  FIELDS[6] = millis ? digits(v, 20, 3) : 0;
  // digits() answers -1 for a character that is not a digit.
  for (let i = 0; i < 7; i++) if (FIELDS[i] < 0) return false;
  return true;
}

/** Whether FIELDS name a real calendar date and time of day (day 31 of April and hour 24 do not). */
function realDateTime(): boolean {
  const month = FIELDS[1];
  const day = FIELDS[2];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(FIELDS[0], month)) return false;
  return FIELDS[3] <= 23 && FIELDS[4] <= 59 && FIELDS[5] <= 59;
}

/** The decimal number in v[start, start + length), or -1 when a character is not a digit. */
export function digits(v: string, start: number, length: number): number {
  let n = 0;
  for (let i = start; i < start + length; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

export function parseGeneral(value: string): string | null {
  const m = ISO.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac = '', , sign, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  // No offset brings a year before 999 into range, and Date.UTC would read years 0..99 as 1900..1999.
  if (year < 999) return null;
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

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days in a month of the proleptic Gregorian calendar. */
export function daysIn(year: number, month: number): number {
  if (month !== 2) return DAYS[month - 1];
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

/**
 * Epoch millis of `YYYY-MM-DDTHH:MM:SS.mmmZ` (the form every row of a backup has), by arithmetic:
 * Date.parse and the ISO regex cost more than the rest of a row's encoding. Undefined for any other
 * form or an out-of-range field (day 31 of April, hour 24), which Date.parse then judges as before.
 */
export function canonicalIsoMillis(s: string): number | undefined {
  if (s.length !== 24 || s.charCodeAt(23) !== 90 /* Z */) return undefined;
  return fixedUtcMillis(s, 84 /* T */);
}

/**
 * Epoch millis of the first 23 characters of `s` read as `YYYY-MM-DD?HH:MM:SS.mmm` (UTC), where `?` is
 * the character code `separator`; undefined unless every field is in range for a real date and time.
 */
export function fixedUtcMillis(s: string, separator: number): number | undefined {
  if (!readFields(s, separator, true) || !realDateTime()) return undefined;
  return (
    daysSinceEpoch(FIELDS[0], FIELDS[1], FIELDS[2]) * 86_400_000 +
    FIELDS[3] * 3_600_000 +
    FIELDS[4] * 60_000 +
    FIELDS[5] * 1000 +
    FIELDS[6]
  );
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil), years 0..9999 too. */
function daysSinceEpoch(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

const ZONELESS = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)$/;

/** A datetime without a zone ('2021-11-07T02:48:42', 'T' or a space), read as UTC; null when it is none. */
export function parseZonelessDatetime(value: string): string | null {
  const m = ZONELESS.exec(value);
  return m ? parseGeneral(`${m[1]}T${m[2]}Z`) : null;
}
