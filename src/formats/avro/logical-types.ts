import avro from 'avsc';
import { canonicalIsoMillis, daysIn, digits } from '../../tables/datetime.js';

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

/** Avro `date` (int, days since 1970-01-01) <-> 'YYYY-MM-DD', years 1000..9999. */
export class DateDays extends avro.types.LogicalType {
  protected override _fromValue(days: number): string {
    return dateOfDays(days);
  }
  protected override _toValue(value: unknown): number {
    // By character codes: a regular expression cost more than the rest of the conversion.
    if (typeof value === 'string' && value.length === 10 && value[4] === '-' && value[7] === '-') {
      const year = digits(value, 0, 4);
      const month = digits(value, 5, 2);
      const day = digits(value, 8, 2);
      if (year >= 1000 && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month))
        return daysOfDate(year, month, day);
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
      const bytes = this.unscaledBytes(value);
      if (bytes) return bytes;
    }
    throw new Error(`not a decimal(${this.precision},${this.scale}): ${String(value)}`);
  }

  /**
   * The bytes of '-12.50' at this scale ('-?digits[.digits]', at most `scale` fraction digits, at most
   * `precision` digits in all), read by character codes; a value of up to 15 digits never leaves a JS
   * number, which is exact there. Undefined when the text is not such a decimal.
   */
  private unscaledBytes(text: string): Buffer | undefined {
    const negative = text.charCodeAt(0) === 45; /* - */
    const start = negative ? 1 : 0;
    let point = -1;
    let n = 0;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 46 /* . */ && point < 0 && i > start && i < text.length - 1) point = i;
      else if (c >= 48 && c <= 57) n = n * 10 + (c - 48);
      else return undefined;
    }
    if (text.length === start) return undefined;
    const fraction = point < 0 ? 0 : text.length - point - 1;
    if (fraction > this.scale) return undefined;
    const count = text.length - start - (point < 0 ? 0 : 1) + this.scale - fraction;
    if (count <= 15) {
      n *= 10 ** (this.scale - fraction);
      if (n < SMALL && n < this.limitNumber) return smallBytes(negative ? -n : n);
    }
    const digits =
      (point < 0 ? text.slice(start) : text.slice(start, point) + text.slice(point + 1)) +
      '0'.repeat(this.scale - fraction);
    const big = BigInt(digits);
    return big < this.limit ? twosComplement(negative ? -big : big) : undefined;
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

const wide = Buffer.alloc(16);

/** The two's-complement big-endian bytes as a BigInt: through two 64-bit reads for up to 16 bytes. */
function unscaledOf(buf: Buffer): bigint {
  const length = buf.length;
  if (length > 16) {
    const u = BigInt(`0x${buf.toString('hex')}`);
    return buf[0] & 0x80 ? u - (1n << BigInt(length * 8)) : u;
  }
  wide.fill(buf[0] & 0x80 ? 0xff : 0, 0, 16 - length);
  buf.copy(wide, 16 - length);
  if (length <= 8) return wide.readBigInt64BE(8);
  return (wide.readBigInt64BE(0) << 64n) | wide.readBigUInt64BE(8);
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

const small = Buffer.alloc(6);

/**
 * Minimal two's-complement big-endian bytes of a whole number below 2^47 in magnitude, in a scratch
 * buffer: the bytes type copies them into the block at once.
 */
function smallBytes(n: number): Buffer {
  let k = 1;
  while (n >= 2 ** (8 * k - 1) || n < -(2 ** (8 * k - 1))) k++;
  small.writeIntBE(n, 0, k);
  return small.subarray(0, k);
}

const INT128 = 1n << 127n;

/** Minimal two's-complement big-endian bytes of any whole number (as Java's BigInteger writes them). */
export function twosComplement(n: bigint): Buffer {
  if (n < -INT128 || n >= INT128) {
    const bits = (n < 0n ? -n - 1n : n).toString(2).length;
    const k = Math.ceil((bits + 1) / 8);
    const u = n < 0n ? (1n << BigInt(8 * k)) + n : n;
    return Buffer.from(u.toString(16).padStart(2 * k, '0'), 'hex');
  }
  const buf = Buffer.allocUnsafe(16);
  const u = BigInt.asUintN(128, n);
  buf.writeBigUInt64BE(u >> 64n, 0);
  buf.writeBigUInt64BE(BigInt.asUintN(64, u), 8);
  // A leading byte that only repeats the next byte's sign bit is redundant.
  let k = 0;
  while (k < 15 && ((buf[k] === 0 && buf[k + 1] < 0x80) || (buf[k] === 0xff && buf[k + 1] >= 0x80))) k++;
  return buf.subarray(k);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const WHOLE = /^-?(?:0|[1-9]\d{0,18})$/;
const varint = Buffer.alloc(10);

function toBigint(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && WHOLE.test(value)) return BigInt(value);
  throw new Error(`not a 64-bit whole number: ${String(value)}`);
}

/**
 * The zigzag varint of a 64-bit whole number, in a scratch buffer (avsc copies it into the block at
 * once). Up to 15 digits the arithmetic stays in a JS number (|2n + 1| < 2^53, exact); past that BigInt.
 */
function zigzag(value: unknown): Buffer {
  let k = 0;
  if (typeof value === 'string' && value.length <= 15 && WHOLE.test(value)) {
    const n = Number(value);
    let z = n >= 0 ? n * 2 : -n * 2 - 1;
    while (z >= 128) {
      varint[k++] = (z % 128) | 0x80;
      z = Math.floor(z / 128);
    }
    varint[k++] = z;
    return varint.subarray(0, k);
  }
  const n = toBigint(value);
  if (n < INT64_MIN || n > INT64_MAX) throw new Error(`beyond a 64-bit long: ${String(value)}`);
  let z = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  while (z >= 128n) {
    varint[k++] = Number(z & 0x7fn) | 0x80;
    z >>= 7n;
  }
  varint[k++] = Number(z);
  return varint.subarray(0, k);
}

/** The canonical text of a zigzag varint (the bytes avsc skipped over as one long). */
function unzigzag(buf: Buffer): string {
  // Seven bytes hold 49 bits: a JS number, exactly.
  if (buf.length <= 7) {
    let z = 0;
    for (let i = buf.length - 1; i >= 0; i--) z = z * 128 + (buf[i] & 0x7f);
    return String(z % 2 === 0 ? z / 2 : -(z + 1) / 2);
  }
  if (buf.length > 10) throw new Error('long of more than 10 bytes');
  let z = 0n;
  for (let i = buf.length - 1; i >= 0; i--) z = (z << 7n) | BigInt(buf[i] & 0x7f);
  const n = z & 1n ? -((z + 1n) >> 1n) : z >> 1n;
  if (n < INT64_MIN || n > INT64_MAX) throw new Error('long beyond 64 bits');
  return n.toString();
}

/**
 * Avro `long` with all 64 bits, as canonical decimal text (a bigint column's Value). Writing also takes
 * a bigint or a safe JS number. Used for plain `long` only; timestamp-millis keeps avsc's long. Its
 * bytes are the varint itself (avsc's noUnpack), so no 8-byte form is built in between.
 */
export const bigLong: avro.Type = avro.types.LongType.__with(
  {
    fromBuffer: unzigzag,
    toBuffer: zigzag,
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
  },
  true,
);

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
