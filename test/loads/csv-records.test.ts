import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { csvRecords } from '../../src/modules/loads/csv-records.js';

async function records(text: string) {
  const out = [];
  for await (const r of csvRecords(Readable.from([Buffer.from(text)]))) out.push([r.line, r.raw, r.fields]);
  return out;
}

describe('csvRecords', () => {
  it('numbers each record by the line it starts on, across blank lines and line breaks in quotes', async () => {
    const text = '\r\n1,a\r\n\n2,"x\r\ny"\r\n3,"p\nq\nr"\n\r\n4,b';
    expect(await records(text)).toEqual([
      [2, '1,a', ['1', 'a']],
      [4, '2,"x\r\ny"', ['2', 'x\r\ny']],
      [6, '3,"p\nq\nr"', ['3', 'p\nq\nr']],
      [10, '4,b', ['4', 'b']],
    ]);
  });

  it('keeps a line of spaces as a record for the rules to refuse', async () => {
    expect(await records('1,a\n   \n2,b\n')).toEqual([
      [1, '1,a', ['1', 'a']],
      [2, '   ', ['   ']],
      [3, '2,b', ['2', 'b']],
    ]);
  });

  it('names the line an unreadable record starts on', async () => {
    await expect(records('1,a\n2,b\n3,"open\n4,c\n')).rejects.toThrow(/record starting on line 3/);
  });
});
