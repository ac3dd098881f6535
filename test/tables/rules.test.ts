import { describe, expect, it } from 'vitest';
import type { KeyRequest } from '../../src/db/engine.js';
import { Catalogue } from '../../src/tables/catalogue.js';
import { parseCatalogue } from '../../src/tables/catalogue-file.js';
import { keyValue, type KeyValue } from '../../src/tables/keys.js';
import { RowGate, type Existing } from '../../src/tables/rules.js';
import type { Row } from '../../src/tables/types.js';

const catalogue = new Catalogue(
  parseCatalogue(
    `tables:
  - name: parents
    primary_key: [code]
    columns: [{ name: code, type: string, max_length: 8 }]
  - name: items
    primary_key: [order_id, line_no]
    unique: [[sku], [alias]]
    columns:
      - { name: order_id, type: bigint }
      - { name: line_no, type: integer }
      - { name: sku, type: string, max_length: 8 }
      - { name: alias, type: string, max_length: 8, nullable: true }
      - { name: parent, type: string, max_length: 8, nullable: true, references: parents.code }
  - name: tree
    primary_key: [id]
    columns:
      - { name: id, type: integer }
      - { name: up, type: integer, nullable: true, references: tree.id }
`,
    'rules.yaml',
  ),
);

/** Stored rows per table: the lookups a database would answer, here from plain data (engine-free rules). */
function lookups(stored: Record<string, Row[]>) {
  const asked: KeyRequest[] = [];
  const lookUp = async (requests: KeyRequest[]) =>
    requests.map((r) => {
      asked.push(r);
      const have = new Set<KeyValue>(
        (stored[r.table.name] ?? []).map((row) => keyValue(r.columns.map((c) => row[c]))),
      );
      return new Set(r.keys.map(keyValue).filter((k) => have.has(k)));
    });
  return { lookUp, asked };
}

const item = (order_id: string, line_no: number, sku: string, extra: Partial<Row> = {}): Row => ({
  order_id,
  line_no,
  sku,
  alias: null,
  parent: null,
  ...extra,
});

async function check(existing: Existing, rows: Row[], stored: Record<string, Row[]> = {}, table = 'items') {
  const gate = new RowGate(catalogue.get(table), catalogue, existing, lookups(stored).lookUp);
  const results = await gate.check(rows.map((row) => ({ ok: true, row })));
  return results.map((r) =>
    r.ok ? 'ok' : `${r.violation.column}:${r.violation.reason}: ${r.violation.message}`,
  );
}

describe('the row gate', () => {
  it('refuses a repeated composite primary key, naming its columns and values; the first row wins', async () => {
    expect(await check('upsert', [item('1', 1, 'A'), item('1', 1, 'B'), item('1', 2, 'C')])).toEqual([
      'ok',
      'order_id,line_no:duplicate_id: (order_id, line_no) (1, 1) appears more than once in this source',
      'ok',
    ]);
  });

  it('refuses a repeated unique key, and a row refused does not hold its keys for later rows', async () => {
    expect(
      await check('upsert', [
        item('1', 1, 'A'),
        item('1', 2, 'A'),
        item('1', 2, 'B'),
        item('1', 3, 'C', { alias: 'x' }),
        item('1', 4, 'D', { alias: 'x' }),
      ]),
    ).toEqual([
      'ok',
      'sku:duplicate_id: sku A appears more than once in this source',
      'ok',
      'ok',
      'alias:duplicate_id: alias x appears more than once in this source',
    ]);
  });

  it('never counts a NULL in a unique key as a duplicate', async () => {
    expect(await check('upsert', [item('1', 1, 'A'), item('1', 2, 'B')])).toEqual(['ok', 'ok']);
  });

  it('batch inserts refuse stored primary and unique keys', async () => {
    const stored = { items: [item('1', 1, 'A'), item('2', 1, 'Z', { alias: 'q' })] };
    expect(
      await check(
        'refuse',
        [item('1', 1, 'N'), item('3', 1, 'A'), item('3', 2, 'M', { alias: 'q' }), item('3', 3, 'O')],
        stored,
      ),
    ).toEqual([
      'order_id,line_no:duplicate_id: (order_id, line_no) (1, 1) already exists in items',
      'sku:duplicate_id: sku A already exists in items (a unique key)',
      'alias:duplicate_id: alias q already exists in items (a unique key)',
      'ok',
    ]);
  });

  it('an upsert may keep a unique value on the row that holds it, not take it from another row', async () => {
    const stored = { items: [item('1', 1, 'A')] };
    expect(await check('upsert', [item('1', 1, 'A'), item('9', 9, 'A')], stored)).toEqual([
      'ok',
      'sku:duplicate_id: sku A already exists in items (a unique key)',
    ]);
    expect(await check('upsert', [item('9', 9, 'A')], stored)).toEqual([
      'sku:duplicate_id: sku A already exists in items (a unique key)',
    ]);
  });

  it('a replace ignores what is stored', async () => {
    expect(await check('replace', [item('1', 1, 'A')], { items: [item('2', 2, 'A')] })).toEqual(['ok']);
  });

  it('checks foreign keys against the parent, skipping NULLs', async () => {
    const stored = { parents: [{ code: 'P1' }] };
    expect(
      await check(
        'upsert',
        [item('1', 1, 'A', { parent: 'P1' }), item('1', 2, 'B', { parent: 'P2' }), item('1', 3, 'C')],
        stored,
      ),
    ).toEqual(['ok', 'parent:unknown_reference: parent P2 does not exist in parents', 'ok']);
  });

  it('counts rows accepted earlier in the source for a table that references itself', async () => {
    expect(
      await check(
        'upsert',
        [
          { id: 1, up: null },
          { id: 2, up: 1 },
          { id: 3, up: 4 },
        ],
        {},
        'tree',
      ),
    ).toEqual(['ok', 'ok', 'up:unknown_reference: up 4 does not exist in tree']);
  });
});
