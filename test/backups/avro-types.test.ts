import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import { afterAll, describe, expect, it } from 'vitest';
import { avroSchemaFor, avroSchemaText, avroTypeFor } from '../../src/modules/backups/avro.js';
import type { ColumnDef, Row, Value } from '../../src/tables/types.js';
import { expectedFromPython, readAvroWithPython } from '../helpers/python-avro.js';
import { col, decode, encode, table } from './avro-helpers.js';

/** Every type's edge values, cycled through the rows; each nullable twin is NULL in every third row. */
const edges: [ColumnDef, Value[]][] = [
  [col('i', 'integer', { default: -2147483648 }), [2147483647, -2147483647, -2147483648, 0, 1, -1]],
  [
    col('b', 'bigint', { default: '9223372036854775807' }),
    ['9223372036854775807', '-9223372036854775807', '-9223372036854775808', '0', '-1', '9007199254740993'],
  ],
  [
    col('d38', 'decimal', { precision: 38, scale: 18, default: '-1.500000000000000000' }),
    [
      '12345678901234567890.123456789012345678',
      '-12345678901234567890.123456789012345678',
      '99999999999999999999.999999999999999999',
      '0.000000000000000000',
      '0.000000000000000001',
      '-0.000000000000000001',
      '-1.500000000000000000',
      // Unscaled 2^47 - 1, ±2^47 (the fast path's edge), ±2^63 and 2^64 (8, 9 bytes).
      '0.000140737488355327',
      '0.000140737488355328',
      '-0.000140737488355328',
      '-9.223372036854775808',
      '9.223372036854775808',
      '18.446744073709551616',
    ],
  ],
  // Unscaled values at the edges of one, two and six bytes of two's complement.
  [
    col('d2', 'decimal', { precision: 12, scale: 2, default: '3.00' }),
    [
      '3.00',
      '-0.50',
      '0.00',
      '1.27',
      '1.28',
      '-1.28',
      '-1.29',
      '327.67',
      '-327.68',
      '9999999999.99',
      '-9999999999.99',
    ],
  ],
  [col('d0', 'decimal', { precision: 5, scale: 0 }), ['0', '-1', '99999', '-99999', '128']],
  [
    col('f', 'double', { default: -0.5 }),
    [1e308, 5e-324, -0.5, 0, 1.7976931348623157e308, -2.2250738585072014e-308, 0.1],
  ],
  [col('flag', 'boolean', { default: false }), [true, false]],
  [
    col('s', 'string', { max_length: 100, default: 'none' }),
    ['Zoë 😀, 🚀 "quoted"', '', 'line\nbreak\ttab', 'x'.repeat(100)],
  ],
  [col('t', 'text'), ['日本語,テスト', '🚀'.repeat(5000), 'plain']],
  [
    col('day', 'date', { default: '1969-12-31' }),
    ['1000-01-01', '9999-12-31', '1970-01-01', '1969-12-31', '2000-02-29', '1900-03-01', '1582-10-04'],
  ],
  [
    col('at', 'datetime', { default: '1969-12-31T23:59:59.999Z' }),
    [
      '1969-12-31T23:59:59.999Z',
      '1970-01-01T00:00:00.000Z',
      '2021-11-07T02:48:42.123Z',
      '1000-01-01T00:00:00.000Z',
      '9999-12-31T23:59:59.999Z',
      '1901-05-06T07:08:09.010Z',
    ],
  ],
];

const every = table('every', [
  col('id', 'bigint'),
  ...edges.flatMap(([c]) => [
    c,
    col(`${c.name}_n`, c.type, {
      precision: c.precision,
      scale: c.scale,
      max_length: c.max_length,
      nullable: true,
    }),
  ]),
]);

function row(n: number): Row {
  const out: Row = { id: String(BigInt(n) * 1_000_000_000_007n) };
  for (const [c, values] of edges) {
    out[c.name] = values[n % values.length];
    out[`${c.name}_n`] = n % 3 === 0 ? null : values[(n + 1) % values.length];
  }
  return out;
}

// Enough rows for several 64 KiB blocks (the text column is 20 KB every third row).
const rows = Array.from({ length: 600 }, (_, i) => row(i));

describe('avro types: every type and NULL', () => {
  it('writes the registry types, nullable unions and defaults in the schema', async () => {
    const schema = avroSchemaFor(every);
    const byName = Object.fromEntries(schema.fields.map((f) => [f.name, f]));
    expect(byName.i).toEqual({ name: 'i', type: 'int', default: -2147483648 });
    expect(byName.b).toEqual({ name: 'b', type: 'long', default: 9223372036854775807n });
    expect(byName.d38).toEqual({
      name: 'd38',
      type: { type: 'bytes', logicalType: 'decimal', precision: 38, scale: 18 },
      // -1.5e18 unscaled: two's complement 0xeb2f1f1e8e40000 (minimal, 8 bytes) as code points.
      default: Buffer.from((2n ** 64n - 1_500_000_000_000_000_000n).toString(16), 'hex').toString('latin1'),
    });
    expect(byName.d2.default).toBe('\u0001\u002c'); // 300
    expect(byName.day).toEqual({ name: 'day', type: { type: 'int', logicalType: 'date' }, default: -1 });
    expect(byName.at).toEqual({
      name: 'at',
      type: { type: 'long', logicalType: 'timestamp-millis' },
      default: -1,
    });
    expect(byName.f_n).toEqual({ name: 'f_n', type: ['null', 'double'], default: null });
    expect(byName.day_n).toEqual({
      name: 'day_n',
      type: ['null', { type: 'int', logicalType: 'date' }],
      default: null,
    });
    const text = avroSchemaText(every);
    expect(text).toContain('{"name":"b","type":"long","default":9223372036854775807}');
    expect(text.startsWith('{"name":"every","type":"record","fields":[')).toBe(true);
  });

  it.each(['deflate', 'null', 'snappy'] as const)(
    '%s: decodes back to identical canonical values',
    async (codec) => {
      const file = await encode(every, rows, rows.length, codec);
      const { rows: back, header } = await decode(every, file);
      expect(back).toStrictEqual(rows);
      expect(header?.['avro.schema']).toBe(avroSchemaText(every));
    },
  );

  it('takes bigints, safe numbers and epoch millis as input too', async () => {
    const input = rows.slice(0, 20).map((r) => ({
      ...r,
      b: BigInt(r.b as string) as unknown as Value,
      i_n: r.i_n,
      at: Date.parse(r.at as string),
    }));
    const { rows: back } = await decode(every, await encode(every, input, input.length));
    expect(back).toStrictEqual(rows.slice(0, 20));
    const small = rows.slice(0, 1).map((r) => ({ ...r, b: 42 }));
    expect((await decode(every, await encode(every, small, 1))).rows[0].b).toBe('42');
  });

  it('writes a bigint as the varint avsc writes for a safe number, and round trips random 64-bit ones', () => {
    const ours = avroTypeFor(table('x', [col('b', 'bigint')]));
    const native = avro.Type.forSchema({ type: 'record', name: 'x', fields: [{ name: 'b', type: 'long' }] });
    let seed = 7n;
    const next = () => (seed = (seed * 6364136223846793005n + 1442695040888963407n) & (2n ** 64n - 1n));
    for (let i = 0; i < 5000; i++) {
      const bits = Number(next() % 64n);
      const n = BigInt.asIntN(64, next()) >> BigInt(bits);
      const bytes = ours.toBuffer({ b: n.toString() });
      // avsc's own long computes 2|n| + 1 in a double: exact below 2^52 only.
      if (n > -(2n ** 52n) && n < 2n ** 52n)
        expect(bytes.equals(native.toBuffer({ b: Number(n) })), String(n)).toBe(true);
      expect({ ...(ours.fromBuffer(bytes) as object) }).toStrictEqual({ b: n.toString() });
    }
  });

  it.each([
    ['d2', '1.234', /not a decimal\(12,2\): 1\.234/],
    ['d2', '10000000000.00', /not a decimal\(12,2\)/],
    ['d2', '1e3', /not a decimal/],
    ['b', '9223372036854775808', /beyond a 64-bit long/],
    ['b', '12.5', /not a 64-bit whole number/],
    ['b', ' 12', /not a 64-bit whole number/],
    ['day', '2021-02-29', /not a date/],
    ['day', '0999-12-31', /not a date/],
    ['i', 2147483648, /invalid "int"/],
    ['s', null, /invalid "string"/],
    ['flag_n', 'true', /invalid/],
  ])('refuses %s = %j rather than write it changed', async (name, value, message) => {
    const bad = { ...rows[1], [name]: value };
    const err = await encode(every, [bad], 1).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'internal_error', message: expect.stringMatching(message) });
  });
});

describe('avro types read by Apache Avro (python3-avro)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dataport-avro-types-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['deflate', 'null', 'snappy'] as const)('reads every type of our %s file', async (codec) => {
    const path = join(dir, `${codec}.avro`);
    writeFileSync(path, await encode(every, rows, rows.length, codec));
    expect(readAvroWithPython(path)).toEqual(
      rows.map((r) =>
        Object.fromEntries(every.columns.map((c) => [c.name, expectedFromPython(c, r[c.name])])),
      ),
    );
  });
});
