import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import avro from 'avsc';
import { afterAll, describe, expect, it } from 'vitest';
import {
  avroSchemaFor,
  avroTypeFor,
  createAvroDecoder,
  createAvroEncoder,
} from '../../src/modules/backups/avro.js';
import { canonicalIsoMillis } from '../../src/tables/datetime.js';
import type { Row, TableDef } from '../../src/tables/types.js';
import { col, decode, decodeError, encode, meta, table } from './avro-helpers.js';

const people: TableDef = table('people', [
  col('id', 'integer'),
  col('name', 'string', { max_length: 200 }),
  col('hired', 'datetime'),
  col('team_id', 'integer'),
]);

const names = [
  'O\'Brien, "Jr."',
  'Zoë 😀, 🚀 "quoted"',
  'line\nbreak; tab\t',
  '',
  '日本語,テスト',
  'x'.repeat(200),
];

function person(i: number): Row {
  return {
    id: i,
    name: names[i % names.length],
    hired: new Date(Date.UTC(2021, 10, 7, 2, 48, 42, i % 1000) + i * 1000).toISOString(),
    team_id: i % 7,
  };
}

/** Writes a file with avsc directly, for headers our encoder would refuse to write. */
async function rawFile(schema: object, records: object[], metadata: Record<string, string> = {}) {
  const enc = new avro.streams.BlockEncoder(
    schema as avro.Schema,
    {
      codec: 'null',
      writeHeader: 'always',
      metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v)])),
    } as Partial<avro.EncoderOptions>,
  );
  const chunks: Buffer[] = [];
  enc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => enc.on('end', resolve));
  records.forEach((r) => enc.write(r));
  enc.end();
  await done;
  return Buffer.concat(chunks);
}

const rows = Array.from({ length: 5000 }, (_, i) => person(i + 1));

describe('avro round trip', () => {
  it.each(['deflate', 'null', 'snappy'] as const)(
    '%s keeps every value, across many blocks',
    async (codec) => {
      const file = await encode(people, rows, rows.length, codec);
      const { rows: back, header } = await decode(people, file);
      expect(back).toStrictEqual(rows);
      expect(header).toMatchObject({
        'avro.codec': codec,
        'dataport.table': 'people',
        'dataport.row_count': '5000',
        'dataport.created_at': '2024-05-01T10:00:00.123Z',
        'dataport.schema_version': '0007_backups',
      });
      expect(JSON.parse(header!['avro.schema'])).toEqual({
        type: 'record',
        name: 'people',
        fields: [
          { name: 'id', type: 'int' },
          { name: 'name', type: 'string' },
          { name: 'hired', type: { type: 'long', logicalType: 'timestamp-millis' } },
          { name: 'team_id', type: 'int' },
        ],
      });
    },
  );

  it('writes a valid file for an empty table', async () => {
    const file = await encode(people, [], 0);
    expect(file.subarray(0, 4).toString('latin1')).toBe('Obj\x01');
    const { rows: back, header } = await decode(people, file);
    expect(back).toEqual([]);
    expect(header?.['dataport.row_count']).toBe('0');
  });

  it('refuses to finish a file whose header row count is wrong', async () => {
    await expect(encode(people, rows.slice(0, 3), 4)).rejects.toThrow(/fewer rows than the 4/);
    await expect(encode(people, rows.slice(0, 3), 2)).rejects.toThrow(/more rows than the 2/);
  });

  it('rejects a row that does not fit the schema', async () => {
    const bad = { ...person(1), hired: '2021-11-07 02:48:42' };
    await expect(encode(people, [bad], 1)).rejects.toMatchObject({ code: 'internal_error' });
  });
});

/** `file` with its sync marker (the last 16 bytes of its header) replaced by `like`'s, for comparing bytes. */
function withSyncOf(file: Buffer, like: Buffer): Buffer {
  const endOfHeader = (f: Buffer) => f.indexOf(f.subarray(f.length - 16)) + 16;
  const own = file.subarray(endOfHeader(file) - 16, endOfHeader(file));
  const theirs = like.subarray(endOfHeader(like) - 16, endOfHeader(like));
  const out = Buffer.from(file);
  for (let i = out.indexOf(own); i >= 0; i = out.indexOf(own, i + 16)) theirs.copy(out, i);
  return out;
}

/** The same rows written by avsc's own BlockEncoder, as backups were written before. */
async function avscFile(table: TableDef, records: Row[], codec: 'null' | 'deflate') {
  const { rowCount, createdAt, schemaVersion } = meta(records.length);
  const enc = new avro.streams.BlockEncoder(avroTypeFor(table), {
    codec,
    writeHeader: 'always',
    metadata: {
      'dataport.table': Buffer.from(table.name),
      'dataport.row_count': Buffer.from(String(rowCount)),
      'dataport.created_at': Buffer.from(createdAt),
      'dataport.schema_version': Buffer.from(schemaVersion),
    },
  } as Partial<avro.EncoderOptions>);
  const chunks: Buffer[] = [];
  await pipeline(Readable.from(records), enc, async (source) => {
    for await (const chunk of source) chunks.push(chunk as Buffer);
  });
  return Buffer.concat(chunks);
}

describe('avro encoder input', () => {
  // A record larger than a block makes the blocks grow, as avsc's did.
  const mixed = rows.map((r, i) => (i === 2500 ? { ...r, name: 'z'.repeat(100_000) } : r));

  it.each(['null', 'deflate'] as const)(
    '%s: pages of rows with epoch millis give the bytes avsc wrote row by row',
    async (codec) => {
      const expected = await avscFile(people, mixed, codec);
      const byRow = await encode(people, mixed, mixed.length, codec);
      expect(withSyncOf(byRow, expected).equals(expected)).toBe(true);
      const pages = Array.from({ length: Math.ceil(mixed.length / 777) }, (_, i) =>
        mixed.slice(i * 777, (i + 1) * 777).map((r) => ({ ...r, hired: Date.parse(r.hired as string) })),
      );
      const chunks: Buffer[] = [];
      await pipeline(
        Readable.from(pages, { highWaterMark: 1 }),
        createAvroEncoder(people, { codec, metadata: meta(mixed.length) }),
        async (source) => {
          for await (const chunk of source) chunks.push(chunk as Buffer);
        },
      );
      expect(withSyncOf(Buffer.concat(chunks), expected).equals(expected)).toBe(true);
    },
  );

  it('reads ISO datetimes by arithmetic exactly as Date.parse, and leaves odd ones to it', () => {
    // Every year from 0 to 9999 (Date.UTC would read 0..99 as 19xx), a day about every ten, odd millis.
    const wrong: string[] = [];
    for (let ms = Date.parse('0000-01-01T00:00:00.000Z'); ms <= Date.UTC(9999, 11, 31); ms += 863_999_937) {
      const iso = new Date(ms).toISOString();
      if (canonicalIsoMillis(iso) !== ms) wrong.push(iso);
    }
    expect(wrong).toEqual([]);
    for (const odd of [
      '2021-02-29T00:00:00.000Z',
      '2020-02-30T00:00:00.000Z',
      '2021-04-31T00:00:00.000Z',
      '2021-01-01T24:00:00.000Z',
      '2021-01-01T00:60:00.000Z',
      '2021-01-01T00:00:60.000Z',
      '2021-13-01T00:00:00.000Z',
      '2021-01-00T00:00:00.000Z',
      '2021-01-01 00:00:00.000Z',
      '2021-01-01T00:00:00.00xZ',
      '2021-01-01T00:00:00.000',
      '2021-01-01T00:00:00Z',
    ]) {
      expect(canonicalIsoMillis(odd), odd).toBeUndefined();
    }
    expect(canonicalIsoMillis('2020-02-29T23:59:59.999Z')).toBe(Date.parse('2020-02-29T23:59:59.999Z'));
  });
});

describe('avro schema evolution', () => {
  it('gives a column added later its default and ignores a dropped column', async () => {
    const v1 = table('people', [...people.columns, col('legacy', 'string', { max_length: 9 })]);
    const v2 = table('people', [
      ...people.columns,
      col('grade', 'integer', { default: 3 }),
      col('title', 'string', { max_length: 50, default: 'none' }),
      col('reviewed', 'datetime', { default: '2020-01-01T00:00:00.000Z' }),
    ]);
    expect((avroSchemaFor(v2) as { fields: object[] }).fields.at(-1)).toEqual({
      name: 'reviewed',
      type: { type: 'long', logicalType: 'timestamp-millis' },
      default: Date.UTC(2020, 0, 1),
    });
    const old = rows.slice(0, 10).map((r) => ({ ...r, legacy: 'gone' }));
    const { rows: back } = await decode(v2, await encode(v1, old, old.length));
    expect(back).toStrictEqual(
      rows.slice(0, 10).map((r) => ({ ...r, grade: 3, title: 'none', reviewed: '2020-01-01T00:00:00.000Z' })),
    );
  });
});

describe('avro corrupt files', () => {
  const sample = rows.slice(0, 50);

  it('rejects a file that is not Avro', async () => {
    expect((await decodeError(people, Buffer.from('id,name\n1,x\n'))).message).toMatch(/not an Avro file/);
    expect((await decodeError(people, Buffer.alloc(0))).message).toMatch(/not an Avro file/);
  });

  it('rejects a truncated file wherever it is cut', async () => {
    const file = await encode(people, sample, sample.length, 'null');
    expect((await decodeError(people, file.subarray(0, 30))).message).toMatch(/truncated header/);
    for (const cut of [1, 16, 17, 200, 2000]) {
      expect((await decodeError(people, file.subarray(0, file.length - cut))).message).toMatch(
        /truncated after block 0/,
      );
    }
  });

  it('rejects a file cut exactly at a block boundary, by its row count', async () => {
    const file = await encode(people, rows, rows.length, 'null');
    const sync = file.subarray(file.length - 16);
    const endOfHeader = file.indexOf(sync) + 16;
    const endOfBlock1 = file.indexOf(sync, endOfHeader) + 16;
    expect(endOfBlock1).toBeLessThan(file.length);
    expect((await decodeError(people, file.subarray(0, endOfBlock1))).message).toMatch(
      /header says 5000 rows but the file holds \d+/,
    );
  });

  it('rejects a sync marker mismatch', async () => {
    const file = Buffer.from(await encode(people, sample, sample.length));
    file[file.length - 1] ^= 0xff;
    expect((await decodeError(people, file)).message).toMatch(/block 1: sync marker mismatch/);
  });

  it('rejects a snappy checksum mismatch', async () => {
    const file = Buffer.from(await encode(people, sample, sample.length, 'snappy'));
    file[file.length - 17] ^= 0x01; // last byte of the CRC, just before the sync marker
    expect((await decodeError(people, file)).message).toMatch(/block 1: snappy data is corrupt.*CRC32/);
  });

  it('rejects corrupt deflate data', async () => {
    const file = Buffer.from(await encode(people, sample, sample.length, 'deflate'));
    file.fill(0xff, file.length - 60, file.length - 16);
    expect((await decodeError(people, file)).message).toMatch(/block 1: deflate data is corrupt/);
  });

  it('rejects a backup of another table', async () => {
    const other: TableDef = { ...people, name: 'staff' };
    expect((await decodeError(other, await encode(people, sample, 50))).message).toMatch(
      /backup of table 'people', not 'staff'/,
    );
    const foreign = await rawFile(avroSchemaFor(other), [], {});
    expect((await decodeError(people, foreign)).message).toMatch(/schema is for 'staff', not table 'people'/);
  });

  it('rejects a schema lacking a column without default, or with an incompatible type, naming the column', async () => {
    const fewer = table('people', people.columns.slice(0, 2));
    expect((await decodeError(people, await encode(fewer, [], 0))).message).toBe(
      'invalid backup: column hired is not in the file, and the catalogue gives it no default and does not allow null',
    );
    const asText = table(
      'people',
      people.columns.map((c) => (c.name === 'team_id' ? col('team_id', 'string', { max_length: 9 }) : c)),
    );
    expect((await decodeError(people, await encode(asText, [], 0))).message).toBe(
      'invalid backup: column team_id is string in the file but integer in the catalogue',
    );
  });

  it('rejects a header row count that differs from the records', async () => {
    const schema = avroSchemaFor(fewerColumns);
    const records = [{ id: 1 }, { id: 2 }, { id: 3 }];
    expect(
      (await decodeError(fewerColumns, await rawFile(schema, records, { 'dataport.row_count': '4' })))
        .message,
    ).toMatch(/header says 4 rows but the file holds 3/);
    expect(
      (await decodeError(fewerColumns, await rawFile(schema, records, { 'dataport.row_count': '2' })))
        .message,
    ).toMatch(/more rows than the 2/);
  });

  it('does not allocate a block whose declared size is huge', async () => {
    const file = await encode(people, [], 0, 'null');
    const huge = Buffer.concat([
      file,
      avro.Type.forSchema('long').toBuffer(1),
      avro.Type.forSchema('long').toBuffer(2 ** 40),
    ]);
    const err = await decodeError(people, Buffer.concat([huge, Buffer.alloc(1000)]));
    expect(err.message).toMatch(/block 1 declares 1099511627776 bytes, over the/);
  });
});

const fewerColumns = table('ids', [col('id', 'integer')]);

describe('avro streaming', () => {
  it('encodes and decodes 200k generated rows without an array', async () => {
    const total = 200_000;
    function* generate() {
      for (let i = 1; i <= total; i++) {
        produced = i;
        yield person(i);
      }
    }
    let produced = 0;
    let count = 0;
    let maxLead = 0;
    let idSum = 0;
    const decoder = createAvroDecoder(people);
    await pipeline(
      Readable.from(generate()),
      createAvroEncoder(people, { codec: 'deflate', metadata: meta(total) }),
      decoder,
      new Writable({
        objectMode: true,
        write(row: Row, _e, cb) {
          count++;
          maxLead = Math.max(maxLead, produced - count);
          idSum += row.id as number;
          cb();
        },
      }),
    );
    expect(count).toBe(total);
    expect(idSum).toBe((total * (total + 1)) / 2);
    // Backpressure holds: the generator never runs more than a few blocks ahead of the consumer.
    expect(maxLead).toBeLessThan(20_000);
    expect(decoder.header?.['dataport.row_count']).toBe(String(total));
  }, 60_000);
});

describe('avro read by Apache Avro (python3-avro)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dataport-avro-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Prints records with datetimes as our ISO strings, plus the dataport header entries.
  const script = `
import sys, json, datetime, avro.datafile, avro.io
with open(sys.argv[1], 'rb') as f:
    reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
    def iso(v):
        return v.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (v.microsecond // 1000)
    rows = [{k: iso(v) if isinstance(v, datetime.datetime) else v for k, v in r.items()} for r in reader]
    meta = {k: v.decode() for k, v in reader.meta.items() if k.startswith('dataport.')}
    print(json.dumps({'codec': reader.codec, 'meta': meta, 'rows': rows}))
`;

  it.each(['deflate', 'null', 'snappy', 'empty'] as const)('reads our %s file', async (kind) => {
    const codec = kind === 'empty' ? 'deflate' : kind;
    const expected = kind === 'empty' ? [] : rows;
    const path = join(dir, `${kind}.avro`);
    writeFileSync(path, await encode(people, expected, expected.length, codec));
    // No skip: a missing python3-avro (or python3-snappy) must fail CI, not hide this test.
    const out = execFileSync('/usr/bin/python3', ['-c', script, path], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const parsed = JSON.parse(out) as { codec: string; meta: Record<string, string>; rows: Row[] };
    expect(parsed.codec).toBe(codec);
    expect(parsed.meta).toEqual({
      'dataport.table': 'people',
      'dataport.row_count': String(expected.length),
      'dataport.created_at': '2024-05-01T10:00:00.123Z',
      'dataport.schema_version': '0007_backups',
    });
    expect(parsed.rows).toEqual(expected);
  });
});
