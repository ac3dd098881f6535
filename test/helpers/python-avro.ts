import { execFileSync } from 'node:child_process';
import type { ColumnDef, Value } from '../../src/tables/types.js';

// Each value tagged with the Python type Apache Avro read it as; ints and decimals as text, never floats.
const PYTHON_READER = `
import sys, json, datetime, decimal, avro.datafile, avro.io
def conv(v):
    if v is None or isinstance(v, (bool, float, str)):
        return v
    if isinstance(v, int):
        return 'int:' + str(v)
    if isinstance(v, decimal.Decimal):
        return 'dec:' + format(v, 'f')
    if isinstance(v, datetime.datetime):
        v = v.astimezone(datetime.timezone.utc)
        return 'ts:%04d-%02d-%02dT%02d:%02d:%02d.%03dZ' % (v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond // 1000)
    if isinstance(v, datetime.date):
        return 'date:' + v.isoformat()
    return 'other:' + repr(v)
with open(sys.argv[1], 'rb') as f:
    reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
    print(json.dumps([{k: conv(v) for k, v in r.items()} for r in reader]))
`;

/**
 * The records of an Avro file as Apache Avro's Python reader (Debian's python3-avro) reads them, each
 * value tagged as `expectedFromPython` tags a catalogue value. No skip: a missing python3-avro must
 * fail the run.
 */
export function readAvroWithPython(file: string): Record<string, unknown>[] {
  return JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', PYTHON_READER, file], { encoding: 'utf8', maxBuffer: 256 << 20 }),
  ) as Record<string, unknown>[];
}

/** What the Python reader prints for the canonical value `v` of column `c`. */
export function expectedFromPython(c: ColumnDef, v: Value): unknown {
  if (v === null) return null;
  if (c.type === 'integer' || c.type === 'bigint') return `int:${String(v)}`;
  if (c.type === 'decimal') return `dec:${String(v)}`;
  if (c.type === 'date') return `date:${String(v)}`;
  if (c.type === 'datetime') return `ts:${String(v)}`;
  return v;
}
