import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import type { ColumnDef, Row, TableDef } from '../../src/tables/types.js';
import { col, decode, decodeError, encode, table } from './avro-helpers.js';

/**
 * Schema resolution on restore: a file written under an older catalogue (the writer) read into the
 * current one (the reader).
 */

/** A file of `name` with one column changed from `before` to `after` (and an id). */
async function changed(before: ColumnDef, after: ColumnDef, values: Row[string][]) {
  const v1 = table('items', [col('id', 'integer'), before]);
  const v2 = table('items', [col('id', 'integer'), after]);
  const file = await encode(
    v1,
    values.map((v, i) => ({ id: i, [before.name]: v })),
    values.length,
  );
  return { v2, file };
}

/** Writes records with avsc directly: another tool's file, in its own schema. */
async function foreignFile(schema: object, records: object[]) {
  const enc = new avro.streams.BlockEncoder(
    schema as avro.Schema,
    {
      codec: 'null',
      writeHeader: 'always',
    } as Partial<avro.EncoderOptions>,
  );
  const chunks: Buffer[] = [];
  await pipeline(Readable.from(records), enc, async (source) => {
    for await (const chunk of source) chunks.push(chunk as Buffer);
  });
  return Buffer.concat(chunks);
}

describe('avro schema resolution: what a restore fills, skips and promotes', () => {
  const v1 = table('items', [
    col('id', 'integer'),
    col('small', 'integer'),
    col('big', 'bigint'),
    col('gone', 'string', { max_length: 9 }),
    col('price', 'decimal', { precision: 12, scale: 2 }),
  ]);
  const v2 = table('items', [
    col('id', 'integer'),
    col('note', 'text', { nullable: true }),
    col('small', 'bigint'),
    col('big', 'double'),
    col('grade', 'integer', { default: 7 }),
    col('rate', 'decimal', { precision: 5, scale: 2, default: '1.50' }),
    col('serial', 'bigint', { default: '-9223372036854775808' }),
    col('since', 'date', { default: '1969-12-31' }),
    col('seen', 'datetime', { nullable: true }),
    col('tier', 'integer', { nullable: true, default: 3 }),
    col('price', 'decimal', { precision: 12, scale: 2, nullable: true }),
  ]);
  const old: Row[] = [
    { id: 1, small: 2147483647, big: '9007199254740993', gone: 'x', price: '-12.50' },
    { id: 2, small: -2147483648, big: '-9223372036854775808', gone: 'y', price: '0.00' },
    { id: 3, small: 0, big: '9223372036854775807', gone: 'z', price: '9999999999.99' },
  ];

  it('fills added columns (default, else null), ignores dropped ones, promotes int -> long and long -> double', async () => {
    const { rows } = await decode(v2, await encode(v1, old, old.length));
    const filled = {
      grade: 7,
      rate: '1.50',
      serial: '-9223372036854775808',
      since: '1969-12-31',
      seen: null,
      tier: 3,
    };
    // long -> double rounds once: 2^53 + 1 to 2^53, 2^63 - 1 to 2^63, -2^63 exactly.
    expect(rows).toStrictEqual([
      { id: 1, note: null, small: '2147483647', big: 2 ** 53, ...filled, price: '-12.50' },
      { id: 2, note: null, small: '-2147483648', big: -(2 ** 63), ...filled, price: '0.00' },
      { id: 3, note: null, small: '0', big: 2 ** 63, ...filled, price: '9999999999.99' },
    ]);
    // Columns in catalogue order, as a Row of the current table.
    expect(Object.keys(rows[0])).toEqual(v2.columns.map((c) => c.name));
  });

  it.each([
    [col('n', 'integer'), col('n', 'double'), [2147483647, -5], [2147483647, -5]],
    [col('n', 'integer'), col('n', 'bigint', { nullable: true }), [-1, 7], ['-1', '7']],
    [col('n', 'string', { max_length: 5 }), col('n', 'text'), ['a', 'b'], ['a', 'b']],
    [col('n', 'text'), col('n', 'string', { max_length: 5, nullable: true }), ['a', ''], ['a', '']],
    [
      col('n', 'date'),
      col('n', 'date', { nullable: true }),
      ['1000-01-01', '9999-12-31'],
      ['1000-01-01', '9999-12-31'],
    ],
    [
      col('n', 'datetime'),
      col('n', 'datetime', { nullable: true }),
      ['1969-12-31T23:59:59.999Z', '2021-01-01T00:00:00.001Z'],
      ['1969-12-31T23:59:59.999Z', '2021-01-01T00:00:00.001Z'],
    ],
    [
      col('n', 'decimal', { precision: 38, scale: 18 }),
      col('n', 'decimal', { precision: 38, scale: 18, nullable: true }),
      ['12345678901234567890.123456789012345678', '-0.000000000000000001'],
      ['12345678901234567890.123456789012345678', '-0.000000000000000001'],
    ],
    [col('n', 'boolean'), col('n', 'boolean', { nullable: true }), [true, false], [true, false]],
    [
      col('n', 'bigint', { nullable: true }),
      col('n', 'double', { nullable: true }),
      [null, '-3'],
      [null, -3],
    ],
  ])('reads %j written as %j', async (before, after, values, expected) => {
    const { v2: reader, file } = await changed(before, after, values);
    expect((await decode(reader, file)).rows.map((r) => r.n)).toStrictEqual(expected);
  });

  it.each([
    [
      col('price', 'string', { max_length: 9 }),
      col('price', 'decimal', { precision: 12, scale: 2 }),
      'column price is string in the file but decimal(12,2) in the catalogue',
    ],
    [
      col('price', 'decimal', { precision: 12, scale: 2 }),
      col('price', 'decimal', { precision: 12, scale: 3 }),
      'column price is decimal(12,2) in the file but decimal(12,3) in the catalogue',
    ],
    [
      col('price', 'decimal', { precision: 10, scale: 2 }),
      col('price', 'decimal', { precision: 12, scale: 2 }),
      'column price is decimal(10,2) in the file but decimal(12,2) in the catalogue',
    ],
    [
      col('n', 'string', { max_length: 9 }),
      col('n', 'integer'),
      'column n is string in the file but integer in the catalogue',
    ],
    [col('n', 'bigint'), col('n', 'integer'), 'column n is long in the file but integer in the catalogue'],
    [col('n', 'double'), col('n', 'bigint'), 'column n is double in the file but bigint in the catalogue'],
    [col('n', 'integer'), col('n', 'date'), 'column n is int in the file but date in the catalogue'],
    [col('n', 'date'), col('n', 'integer'), 'column n is date in the file but integer in the catalogue'],
    [col('n', 'date'), col('n', 'datetime'), 'column n is date in the file but datetime in the catalogue'],
    [
      col('n', 'datetime'),
      col('n', 'bigint'),
      'column n is timestamp-millis in the file but bigint in the catalogue',
    ],
    [col('n', 'bigint'), col('n', 'datetime'), 'column n is long in the file but datetime in the catalogue'],
    [
      col('n', 'boolean'),
      col('n', 'integer'),
      'column n is boolean in the file but integer in the catalogue',
    ],
    [
      col('n', 'integer', { nullable: true }),
      col('n', 'integer'),
      'column n may be null in the file but is NOT NULL in the catalogue',
    ],
    [
      col('n', 'string', { max_length: 9, nullable: true }),
      col('n', 'decimal', { precision: 12, scale: 2 }),
      'column n is string in the file but decimal(12,2) in the catalogue',
    ],
  ])('refuses %j read as %j, naming the column', async (before, after, message) => {
    const { v2: reader, file } = await changed(before, after, []);
    expect((await decodeError(reader, file)).message).toBe(`invalid backup: ${message}`);
  });

  it('refuses a file that lacks a NOT NULL column without a default', async () => {
    const reader: TableDef = table('items', [...v1.columns, col('must', 'string', { max_length: 3 })]);
    expect((await decodeError(reader, await encode(v1, old, old.length))).message).toBe(
      'invalid backup: column must is not in the file, and the catalogue gives it no default and does not allow null',
    );
  });
});

describe('avro schema resolution of files from other writers', () => {
  const items = table('items', [
    col('id', 'bigint'),
    col('label', 'string', { max_length: 40, nullable: true }),
    col('price', 'decimal', { precision: 4, scale: 1 }),
    col('day', 'date'),
  ]);

  it('reads [T, "null"] unions, {"type": "long"}, a uuid string, a namespace and Java-style decimals', async () => {
    const schema = {
      type: 'record',
      name: 'items',
      namespace: 'com.example',
      fields: [
        { name: 'id', type: { type: 'long' } },
        { name: 'label', type: [{ type: 'string', logicalType: 'uuid' }, 'null'] },
        { name: 'price', type: { type: 'bytes', logicalType: 'decimal', precision: 4, scale: 1 } },
        { name: 'day', type: { type: 'int', logicalType: 'date' } },
        { name: 'extra', type: { type: 'array', items: 'int' } },
      ],
    };
    const file = await foreignFile(schema, [
      // Non-minimal two's complement (a leading 0xff) is still -1.0.
      {
        id: 1,
        label: '0b9e6c1e-4a4e-4f0e-9c1e-1d2a3b4c5d6e',
        price: Buffer.from([0xff, 0xf6]),
        day: -719162,
        extra: [1],
      },
      { id: -2, label: null, price: Buffer.from([0x27, 0x0f]), day: 2932896, extra: [] },
    ]);
    expect((await decode(items, file)).rows).toStrictEqual([
      { id: '1', label: '0b9e6c1e-4a4e-4f0e-9c1e-1d2a3b4c5d6e', price: '-1.0', day: '0001-01-01' },
      { id: '-2', label: null, price: '999.9', day: '9999-12-31' },
    ]);
  });

  it('refuses a union of two types, a fixed decimal and a decimal without bytes', async () => {
    const base = [
      { name: 'id', type: 'long' },
      { name: 'label', type: 'string' },
      { name: 'price', type: { type: 'bytes', logicalType: 'decimal', precision: 4, scale: 1 } },
      { name: 'day', type: { type: 'int', logicalType: 'date' } },
    ];
    const withField = (i: number, type: unknown) => ({
      type: 'record',
      name: 'items',
      fields: base.map((f, j) => (j === i ? { ...f, type } : f)),
    });
    const union = await foreignFile(withField(1, ['null', 'string', 'int']), []);
    expect((await decodeError(items, union)).message).toBe(
      'invalid backup: column label is the union ["null","string","int"] in the file but string in the catalogue',
    );
    const fixed = await foreignFile(
      withField(2, { type: 'fixed', name: 'd', size: 2, logicalType: 'decimal', precision: 4, scale: 1 }),
      [],
    );
    expect((await decodeError(items, fixed)).message).toBe(
      'invalid backup: column price is fixed in the file but decimal(4,1) in the catalogue',
    );
    const empty = await foreignFile(
      withField(2, { type: 'bytes', logicalType: 'decimal', precision: 4, scale: 1 }),
      [{ id: 1, label: 'a', price: Buffer.alloc(0), day: 0 }],
    );
    expect((await decodeError(items, empty)).message).toMatch(/decimal without bytes/);
  });
});
