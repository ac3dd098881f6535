import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { csvRecords } from '../../src/modules/loads/csv-records.js';

async function read(input: Readable) {
  const out = [];
  for await (const r of csvRecords(input)) out.push([r.line, r.raw, r.fields]);
  return out;
}
const records = (text: string) => read(Readable.from([Buffer.from(text)]));
/** The text as Buffer chunks of `size` bytes, split anywhere (inside a UTF-8 character too). */
const chunked = (text: string | Buffer, size: number) => {
  const bytes = Buffer.from(text);
  const chunks = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
};
const MiB = 1024 * 1024;

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

  it('drops a UTF-8 BOM at the start only', async () => {
    expect(await records('\uFEFF1,a\n\uFEFF2,b\n')).toEqual([
      [1, '1,a', ['1', 'a']],
      [2, '\uFEFF2,b', ['\uFEFF2', 'b']],
    ]);
    expect(await read(chunked('\uFEFF1,a\n', 1))).toEqual([[1, '1,a', ['1', 'a']]]);
    expect(await read(Readable.from(['\uFEFF1,a\n']))).toEqual([[1, '1,a', ['1', 'a']]]);
  });

  it('decodes a character split across two chunks', async () => {
    const bytes = Buffer.from('1,Jürgen €\n');
    const at = bytes.indexOf(Buffer.from('€')) + 1;
    const input = Readable.from([bytes.subarray(0, at), bytes.subarray(at)]);
    expect(await read(input)).toEqual([[1, '1,Jürgen €', ['1', 'Jürgen €']]]);
  });

  it('reads the same records however the input is split', async () => {
    const text =
      '\uFEFF1,"a,b"\r\n\r\n2,"x ""y""\r\nz",é€😀\n3,a"b,\u0000\r\n\n4,"",""\r\n5,last,"q\r"\n6,"end\n"\r\n7,x';
    const whole = await records(text);
    expect(whole.map(([line]) => line)).toEqual([1, 3, 5, 7, 8, 9, 11]);
    for (const size of [1, 2, 3, 7, 64]) expect(await read(chunked(text, size))).toEqual(whole);
    expect(await read(Readable.from([text]))).toEqual(whole);
    expect(await read(Readable.from([...text]))).toEqual(whole);
  });

  it('drops the CR of a CRLF ending, not a CR inside quotes', async () => {
    expect(await records('1,"a"\r\n2,b\r\n3,"x\r"\n4,"y\r"\r\n5,z\r\r\n\r\n7,"""\r"\r\n')).toEqual([
      [1, '1,"a"', ['1', 'a']],
      [2, '2,b', ['2', 'b']],
      [3, '3,"x\r"', ['3', 'x\r']],
      [4, '4,"y\r"', ['4', 'y\r']],
      [5, '5,z', ['5', 'z\r']],
      [7, '7,"""\r"', ['7', '"\r']],
    ]);
  });

  it('reads doubled quotes, and a quote inside an unquoted field as text', async () => {
    expect(await records('1,"say ""hi""",""""\n2,a"b,5"\n')).toEqual([
      [1, '1,"say ""hi""",""""', ['1', 'say "hi"', '"']],
      [2, '2,a"b,5"', ['2', 'a"b', '5"']],
    ]);
  });

  it('passes on a record with the wrong number of fields, and a NUL (shown as U+2400 in raw)', async () => {
    expect(await records('1\n2,a,b,c\n3,a\u0000b\n')).toEqual([
      [1, '1', ['1']],
      [2, '2,a,b,c', ['2', 'a', 'b', 'c']],
      [3, '3,a\u2400b', ['3', 'a\u0000b']],
    ]);
  });

  it('refuses a closing quote followed by other text, naming the line the record starts on', async () => {
    const err = records('1,a\n2,b\n\n4,"x"y,z\n5,c\n');
    await expect(err).rejects.toMatchObject({ code: 'invalid_csv' });
    await expect(err).rejects.toThrow(/record starting on line 4\)/);
    await expect(records('1,"a\nb"c\n')).rejects.toThrow(/record starting on line 1\)/);
  });

  it('refuses a record over 16 MiB, whole in a chunk or spread over many', async () => {
    const text = `1,a\n2,${'x'.repeat(17 * MiB)}\n3,b\n`;
    await expect(records(text)).rejects.toMatchObject({
      code: 'invalid_csv',
      message: expect.stringMatching(/record starting on line 2\)/),
    });
    await expect(read(chunked(text, 64 * 1024))).rejects.toThrow(/record starting on line 2\)/);
    await expect(read(chunked(`1,a\n2,"${'x\n'.repeat(9 * MiB)}`, 64 * 1024))).rejects.toThrow(
      /record starting on line 2\)/,
    );
  });

  it('destroys the input when the consumer stops early, and surfaces an error of the input', async () => {
    const input = Readable.from(
      (function* () {
        for (let i = 1; ; i++) yield Buffer.from(`${i},a\n`);
      })(),
    );
    for await (const r of csvRecords(input)) if (r.line === 3) break;
    expect(input.destroyed).toBe(true);

    const failing = Readable.from(
      (async function* () {
        yield Buffer.from('1,a\n2,b\n');
        throw new Error('connection reset');
      })(),
    );
    await expect(read(failing)).rejects.toThrow('connection reset');
  });
});
