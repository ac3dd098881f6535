import avro from 'avsc';
import { canonicalIsoMillis, daysIn } from '../../tables/datetime.js';

/**
 * The avsc types behind the catalogue's exact values (avsc 5.7.9 has no built-in logical types, and
 * its `long` goes through a JS number). Each converts between the canonical Value of types.ts and
 * the Avro encoding, exactly:
 * - timestamp-millis: epoch millis <-> 'YYYY-MM-DDTHH:MM:SS.mmmZ'
 * - date: days since 1970-01-01 <-> 'YYYY-MM-DD' (proleptic Gregorian)
 * - decimal: two's-complement big-endian unscaled bytes <-> canonical text with `scale` fraction digits
 * - bigLong: all 64 bits <-> canonical decimal text, through BigInt
 *
 * `_check` (what avsc asks of each branch of a nullable union, per value) is only a cheap test of the
 * JS type; the full check is in the conversion, which throws on a bad value.
 */

type Hook = ((val: unknown, type: avro.Type) => void) | undefined;

function checked(ok: boolean, val: unknown, type: avro.Type, hook: Hook): boolean {
  if (!ok && hook) hook(val, type);
  return ok;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** Avro `timestamp-millis` <-> the catalogue's UTC ISO strings. */
export class TimestampMillis extends avro.types.LogicalType {
  protected override _fromValue(ms: number): string {
    return new Date(ms).toISOString();
  }
  protected override _toValue(value: unknown): number {
    // Already epoch millis (a backup converts the driver's text itself); the long type checks it.
    if (typeof value === 'number') return value;
    if (typeof value === 'string') {
      const ms = canonicalIsoMillis(value);
      if (ms !== undefined) return ms;
      if (ISO_UTC.test(value)) return Date.parse(value);
    }
    if (value instanceof Date) return value.getTime();
    throw new Error(`not a UTC ISO datetime: ${String(value)}`);
  }
  _check(val: unknown, _flags: unknown, hook: Hook): boolean {
    return checked(
      typeof val === 'number' || typeof val === 'string' || val instanceof Date,
      val,
      this,
      hook,
    );
  }
  protected override _resolve(type: avro.Type): ((ms: number) => string) | undefined {
    if (avro.Type.isType(type, 'long', 'int')) return (ms) => this._fromValue(ms);
    return undefined;
  }
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Avro `date` (int, days since 1970-01-01) <-> 'YYYY-MM-DD', years 1000..9999. */
export class DateDays extends avro.types.LogicalType {
  protected override _fromValue(days: number): string {
    return dateOfDays(days);
  }
  protected override _toValue(value: unknown): number {
    if (typeof value === 'string') {
      const m = DATE.exec(value);
      if (m) {
        const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
        if (year >= 1000 && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month))
          return daysOfDate(year, month, day);
      }
    }
    throw new Error(`not a date YYYY-MM-DD from 1000-01-01 to 9999-12-31: ${String(value)}`);
  }
  _check(val: unknown, _flags: unknown, hook: Hook): boolean {
    return checked(typeof val === 'string', val, this, hook);
  }
  protected override _resolve(type: avro.Type): ((days: number) => string) | undefined {
    if (avro.Type.isType(type, 'int')) return (days) => dateOfDays(days);
    return undefined;
  }
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysOfDate(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

/**
 * The date `days` after 1970-01-01 (civil_from_days). A year outside 0..9999 is written with a sign and
 * six digits (ISO 8601's expanded form), which the table's rules then refuse as invalid_date.
 */
export function dateOfDays(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const y =
    year >= 0 && year <= 9999
      ? String(year).padStart(4, '0')
      : `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(6, '0')}`;
  return `${y}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

const DECIMAL_TEXT = /^(-?)(\d+)(?:\.(\d+))?$/;
// Unscaled values below 2^47 in magnitude fit writeIntBE's 6 bytes, and their digits a JS number.
const SMALL = 2 ** 47;

/** Avro `decimal` on bytes <-> canonical decimal text with exactly `scale` fraction digits. */
export class Decimal extends avro.types.LogicalType {
  readonly precision: number;
  readonly scale: number;
  /** 10^precision: the first unscaled value that does not fit. */
  private readonly limit: bigint;
  private readonly limitNumber: number;

  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    const { precision, scale = 0 } = schema as { precision?: unknown; scale?: unknown };
    if (!avro.Type.isType(this.underlyingType, 'bytes')) throw new Error('decimal on bytes only');
    if (typeof precision !== 'number' || !Number.isInteger(precision) || precision < 1)
      throw new Error(`invalid decimal precision: ${String(precision)}`);
    if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 0 || scale > precision)
      throw new Error(`invalid decimal scale: ${String(scale)}`);
    this.precision = precision;
    this.scale = scale;
    this.limit = 10n ** BigInt(precision);
    this.limitNumber = 10 ** Math.min(precision, 16);
  }

  protected override _export(schema: avro.Schema): void {
    Object.assign(schema, { precision: this.precision, scale: this.scale });
  }

  protected override _fromValue(buf: Buffer): string {
    if (buf.length === 0) throw new Error('decimal without bytes');
    const n = buf.length <= 6 ? buf.readIntBE(0, buf.length) : unscaledOf(buf);
    return scaled(n, this.scale);
  }

  protected override _toValue(value: unknown): Buffer {
    if (typeof value === 'string') {
      const m = DECIMAL_TEXT.exec(value);
      if (m && (m[3] ?? '').length <= this.scale) {
        const [, sign, whole, fraction = ''] = m;
        const digits = whole + fraction.padEnd(this.scale, '0');
        if (digits.length <= 15) {
          const n = Number(digits);
          if (n < SMALL && n < this.limitNumber) return smallBytes(sign ? -n : n);
        }
        const n = BigInt(digits);
        if (n < this.limit) return twosComplement(sign ? -n : n);
      }
    }
    throw new Error(`not a decimal(${this.precision},${this.scale}): ${String(value)}`);
  }

  _check(val: unknown, _flags: unknown, hook: Hook): boolean {
    return checked(typeof val === 'string', val, this, hook);
  }

  protected override _resolve(type: avro.Type): ((buf: Buffer) => string) | undefined {
    // Scale and precision were matched by resolve.ts against the writer's schema text.
    if (avro.Type.isType(type, 'bytes')) return (buf) => this._fromValue(buf);
    return undefined;
  }
}

function unscaledOf(buf: Buffer): bigint {
  const u = BigInt(`0x${buf.toString('hex')}`);
  return buf[0] & 0x80 ? u - (1n << BigInt(buf.length * 8)) : u;
}

/** The canonical text of unscaled value `n` at `scale`: '-12.50', '0.05', '3'. */
function scaled(n: number | bigint, scale: number): string {
  const negative = n < 0;
  const digits = (negative ? -n : n).toString();
  if (scale === 0) return negative ? `-${digits}` : digits;
  const padded = digits.padStart(scale + 1, '0');
  const text = `${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** Minimal two's-complement big-endian bytes of a whole number below 2^47 in magnitude. */
function smallBytes(n: number): Buffer {
  let k = 1;
  while (n >= 2 ** (8 * k - 1) || n < -(2 ** (8 * k - 1))) k++;
  const buf = Buffer.allocUnsafe(k);
  buf.writeIntBE(n, 0, k);
  return buf;
}

/** Minimal two's-complement big-endian bytes of any whole number (as Java's BigInteger writes them). */
export function twosComplement(n: bigint): Buffer {
  const bits = (n < 0n ? -n - 1n : n).toString(2).length;
  const k = n === 0n || n === -1n ? 1 : Math.ceil((bits + 1) / 8);
  const u = n < 0n ? (1n << BigInt(8 * k)) + n : n;
  return Buffer.from(u.toString(16).padStart(2 * k, '0'), 'hex');
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const WHOLE = /^-?(?:0|[1-9]\d{0,18})$/;
const scratch = Buffer.alloc(8);

function toBigint(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && WHOLE.test(value)) return BigInt(value);
  throw new Error(`not a 64-bit whole number: ${String(value)}`);
}

/**
 * Avro `long` with all 64 bits, as canonical decimal text (a bigint column's Value). Writing also takes
 * a bigint or a safe JS number. Used for plain `long` only; timestamp-millis keeps avsc's long.
 */
export const bigLong: avro.Type = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(0).toString(),
  toBuffer(value: unknown): Buffer {
    const n = toBigint(value);
    if (n < INT64_MIN || n > INT64_MAX) throw new Error(`beyond a 64-bit long: ${String(value)}`);
    // packLongBytes reads (and inverts) these bytes at once, so one scratch buffer serves every write.
    scratch.writeBigInt64LE(n);
    return scratch;
  },
  // From an int writer (promotion) and from a schema default.
  fromJSON: (value: unknown) =>
    typeof value === 'number' ? BigInt(Math.trunc(value)).toString() : toBigint(value).toString(),
  // avsc copies a field's default through toJSON and fromJSON: text keeps every digit.
  toJSON: (value: unknown) => toBigint(value).toString(),
  isValid: (value: unknown) =>
    typeof value === 'string' || typeof value === 'bigint' || Number.isSafeInteger(value),
  compare(a: unknown, b: unknown): number {
    const x = toBigint(a);
    const y = toBigint(b);
    return x < y ? -1 : x > y ? 1 : 0;
  },
});

export const LOGICAL_TYPES = {
  'timestamp-millis': TimestampMillis,
  date: DateDays,
  decimal: Decimal,
};

/** avsc's type hook: a plain `long` (no logical type) becomes bigLong, in reader and writer schemas alike. */
export function longHook(schema: unknown): avro.Type | undefined {
  if (schema === 'long') return bigLong;
  if (schema !== null && typeof schema === 'object' && !Array.isArray(schema)) {
    const s = schema as { type?: unknown; logicalType?: unknown };
    if (s.type === 'long' && s.logicalType === undefined) return bigLong;
  }
  return undefined;
}
