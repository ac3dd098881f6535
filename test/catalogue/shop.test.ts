import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toDbRow } from '../../src/db/rows.js';
import { loadCatalogue } from '../../src/tables/catalogue.js';
import type { Row } from '../../src/tables/types.js';
import { auth, countRows, createTestApp, type TestApp } from '../helpers/app.js';
import { api, putSource, storedRows, type Reject } from '../helpers/catalogue.js';
import { testEngines } from '../helpers/engines.js';

/**
 * catalogues/shop.yaml with its sample files (storage/shop/): a bigint key, a string key, a key of two
 * columns, a keyless table, header CSVs with csv_name, another delimiter and NULL texts; loads, batch
 * inserts, duplicates of composite keys, backups, restores and a restore that would break references.
 */
const shop = () => loadCatalogue('catalogues/shop.yaml');

/** [line, column, reason] of each reject of a load, by line. */
const byLine = (rejects: Reject[]) =>
  rejects.map((r) => [r.line, r.column, r.reason]).sort((a, b) => (a[0] as number) - (b[0] as number));

const CUSTOMERS = [
  {
    id: '1',
    email: 'ada@example.org',
    name: 'Ada Lovelace',
    country: 'GB',
    birth_date: '1815-12-10',
    signed_up_at: '2021-01-05T10:00:00.000Z',
    vip: true,
  },
  {
    id: '2',
    email: 'alan@example.org',
    name: 'Alan Turing',
    country: 'GB',
    birth_date: '1912-06-23',
    signed_up_at: '2021-01-06T11:30:00.250Z',
    vip: true,
  },
  {
    id: '3',
    email: 'grace@example.org',
    name: 'Grace Hopper',
    country: 'US',
    birth_date: '1906-12-09',
    signed_up_at: '2021-02-01T13:15:00.000Z',
    vip: false,
  },
  {
    id: '4',
    email: 'linus@example.org',
    name: 'Linus Torvalds',
    country: 'FI',
    birth_date: null,
    signed_up_at: '2021-03-15T12:00:00.000Z',
    vip: false,
  },
  {
    id: '5',
    email: 'margaret@example.org',
    name: 'Hamilton, Margaret',
    country: 'US',
    birth_date: '1936-08-17',
    signed_up_at: '2021-03-20T09:45:12.500Z',
    vip: false,
  },
  {
    id: '6',
    email: 'ken@example.org',
    name: 'Ken Thompson',
    country: null,
    birth_date: '1943-02-04',
    signed_up_at: '2021-04-01T00:00:00.000Z',
    vip: true,
  },
  {
    id: '9223372036854775807',
    email: 'max@example.org',
    name: 'Max "Biggest" Id',
    country: 'DE',
    birth_date: '1990-01-31',
    signed_up_at: '2021-05-05T05:05:05.005Z',
    vip: false,
  },
];

const product = (
  sku: string,
  title: string,
  description: string | null,
  price: string,
  weight_kg: number | null,
  category: string,
  stock: number,
  discontinued = false,
) => ({ sku, title, description, price, weight_kg, category, stock, discontinued });

const PRODUCTS = [
  product(
    'BOK-0001',
    'The Art of Computer Programming',
    'Volumes 1–4A; boxed set',
    '249.99',
    4.5,
    'books',
    12,
  ),
  product('BOK-0002', 'Structure and Interpretation', null, '45.00', 1.2, 'books', 30),
  product('GAM-0001', 'Go board', '19x19, wood', '89.50', 2.25, 'games', 4),
  product('MUS-0001', 'Goldberg Variations', null, '12.00', 0.1, 'music', 100, true),
  product('TOL-0001', 'Soldering iron', 'Says "hot" on the box', '24.95', null, 'tools', 0),
  product('TOL-0002', 'Oscilloscope', null, '1234567890.12', 7.8, 'tools', 2),
];

const ORDERS = [
  {
    id: '1001',
    customer_id: '1',
    ordered_at: '2021-07-01T10:00:00.000Z',
    shipped_on: '2021-07-03',
    status: 'shipped',
    total: '249.99',
  },
  {
    id: '1002',
    customer_id: '2',
    ordered_at: '2021-07-02T11:00:00.123Z',
    shipped_on: null,
    status: 'paid',
    total: '134.50',
  },
  {
    id: '1003',
    customer_id: '3',
    ordered_at: '2021-07-03T10:00:00.000Z',
    shipped_on: null,
    status: 'new',
    total: '0.00',
  },
  {
    id: '1004',
    customer_id: '9223372036854775807',
    ordered_at: '2021-07-04T13:00:00.000Z',
    shipped_on: '2021-07-10',
    status: 'shipped',
    total: '1234567890.12',
  },
];

const line = (
  order_id: string,
  line_no: number,
  sku: string,
  quantity: number,
  unit_price: string,
  gift: boolean,
  note: string | null,
) => ({ order_id, line_no, sku, quantity, unit_price, gift, note });

const ORDER_LINES = [
  line('1001', 1, 'BOK-0001', 1, '249.99', false, null),
  line('1002', 1, 'BOK-0002', 2, '45.00', true, 'Wrap it, please'),
  line('1002', 2, 'MUS-0001', 1, '12.00', false, 'Two lines\nof note'),
  line('1004', 1, 'TOL-0002', 1, '1234567890.12', false, null),
];

// Keyless: storedRows orders them by every column.
const PAGE_VIEWS = [
  { viewed_at: '2021-07-01T09:02:00.000Z', customer_id: '2', path: '/games' },
  { viewed_at: '2021-07-01T10:00:00.000Z', customer_id: '1', path: '/' },
  { viewed_at: '2021-07-01T10:00:05.500Z', customer_id: '1', path: '/books' },
  { viewed_at: '2021-07-01T10:01:00.000Z', customer_id: null, path: '/' },
];

describe.each(testEngines())('the shop catalogue end to end on $name', (engine) => {
  let t: TestApp;
  let http: ReturnType<typeof api>;

  beforeAll(async () => {
    t = await createTestApp(engine, { withSamples: true, catalogue: shop() });
    http = api(t);
  });
  afterAll(async () => t?.close());

  const loaded = async (table: string, counts: { rows_read: number; loaded: number; rejected: number }) => {
    const res = await http.load(table);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ table, source: `shop/${table}.csv`, ...counts });
    const log = await http.rejects(table, res.json().load_id);
    expect(log.total).toBe(counts.rejected);
    for (const r of log.rejects) expect(r.source).toBe(`shop/${table}.csv`);
    return log.rejects;
  };

  it('loads customers (header with csv_name, a bigint key) and refuses the bad rows with their reasons', async () => {
    const rejects = await loaded('customers', { rows_read: 14, loaded: 7, rejected: 7 });
    expect(byLine(rejects)).toEqual([
      [9, 'email', 'pattern_mismatch'],
      [10, 'country', 'pattern_mismatch'],
      [11, 'birth_date', 'invalid_date'],
      [12, 'vip', 'invalid_boolean'],
      [13, 'signed_up_at', 'invalid_datetime'],
      [14, 'birth_date', 'out_of_range'],
      [15, 'id', 'duplicate_id'],
    ]);
    expect(rejects.find((r) => r.line === 15)!.raw).toBe(
      '3,grace2@example.org,Grace Again,US,1906-12-09,2021-02-01T08:15:00Z,false',
    );
    expect(await storedRows(t, 'customers')).toEqual(CUSTOMERS);
  });

  it('loads products (a string key, ";" and NA as NULL)', async () => {
    const rejects = await loaded('products', { rows_read: 12, loaded: 6, rejected: 6 });
    expect(byLine(rejects)).toEqual([
      [8, 'sku', 'pattern_mismatch'],
      [9, 'price', 'invalid_number'],
      [10, 'price', 'out_of_range'],
      [11, 'price', 'invalid_number'],
      [12, 'category', 'not_allowed'],
      [13, 'weight_kg', 'out_of_range'],
    ]);
    expect(rejects.find((r) => r.line === 13)!.raw).toBe('TOL-0007;Huge weight;;1.00;1e999;tools;1;false');
    expect(await storedRows(t, 'products')).toEqual(PRODUCTS);
  });

  it('loads orders (headerless, bigint references)', async () => {
    const rejects = await loaded('orders', { rows_read: 8, loaded: 4, rejected: 4 });
    expect(byLine(rejects)).toEqual([
      [5, 'customer_id', 'unknown_reference'],
      [6, 'shipped_on', 'invalid_date'],
      [7, 'status', 'not_allowed'],
      [8, 'total', 'out_of_range'],
    ]);
    expect(await storedRows(t, 'orders')).toEqual(ORDERS);
  });

  it('loads order_lines (a key of two columns, a multi-line note), and a reload gives the same rows', async () => {
    const rejects = await loaded('order_lines', { rows_read: 8, loaded: 4, rejected: 4 });
    expect(byLine(rejects).map(([l, , reason]) => [l, reason])).toEqual([
      [6, 'duplicate_id'],
      [7, 'invalid_integer'],
      [9, 'unknown_reference'],
      [10, 'unknown_reference'],
    ]);
    expect(byLine(rejects).slice(1)).toEqual([
      [7, 'quantity', 'invalid_integer'],
      [9, 'sku', 'unknown_reference'],
      [10, 'order_id', 'unknown_reference'],
    ]);
    const dup = rejects.find((r) => r.line === 6)!;
    expect(dup.message).toBe('(order_id, line_no) (1002, 2) appears more than once in this source');
    expect(dup.raw).toBe('1002,2,MUS-0001,1,12,false,the same key again');
    expect(await storedRows(t, 'order_lines')).toEqual(ORDER_LINES);
    await loaded('order_lines', { rows_read: 8, loaded: 4, rejected: 4 });
    expect(await storedRows(t, 'order_lines')).toEqual(ORDER_LINES);
  });

  it('loads page_views (no key, zone-less datetimes as UTC); a reload replaces the rows', async () => {
    const rejects = await loaded('page_views', { rows_read: 5, loaded: 4, rejected: 1 });
    expect(byLine(rejects)).toEqual([[5, 'customer_id', 'unknown_reference']]);
    expect(await storedRows(t, 'page_views')).toEqual(PAGE_VIEWS);
    await loaded('page_views', { rows_read: 5, loaded: 4, rejected: 1 });
    expect(await storedRows(t, 'page_views')).toEqual(PAGE_VIEWS);
  });

  it('refuses a composite key repeated in a batch or already stored, naming both columns and values', async () => {
    const res = await http.batch('order_lines', [
      { order_id: 1001, line_no: 2, sku: 'BOK-0002', quantity: 3, unit_price: 1 },
      { order_id: 1001, line_no: 2, sku: 'BOK-0001', quantity: 1, unit_price: '2.00' },
      { order_id: 1002, line_no: 1, sku: 'BOK-0001', quantity: 1, unit_price: 1 },
      // Same order, another line: a different key.
      {
        order_id: 1002,
        line_no: 3,
        sku: 'GAM-0001',
        quantity: 1,
        unit_price: '89.5',
        gift: true,
        note: 'ok',
      },
    ]);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ received: 4, inserted: 2, rejected: 2 });
    expect(body.rejects.map((r: Reject) => [r.index, r.reason, r.message])).toEqual([
      [1, 'duplicate_id', '(order_id, line_no) (1001, 2) appears more than once in this source'],
      [2, 'duplicate_id', '(order_id, line_no) (1002, 1) already exists in order_lines'],
    ]);
    expect(await storedRows(t, 'order_lines')).toEqual([
      ORDER_LINES[0],
      line('1001', 2, 'BOK-0002', 3, '1.00', false, null),
      ...ORDER_LINES.slice(1, 3),
      line('1002', 3, 'GAM-0001', 1, '89.50', true, 'ok'),
      ORDER_LINES[3],
    ]);
    // Back to the file's rows for the tests that follow.
    await t.ctx.engine.db
      .deleteFrom('order_lines')
      .where('order_id', 'in', ['1001', '1002'])
      .where('line_no', '>', 1)
      .where('sku', '!=', 'MUS-0001')
      .execute();
    expect(await storedRows(t, 'order_lines')).toEqual(ORDER_LINES);
  });

  it('inserts into products by its string key, refusing a key already stored', async () => {
    const res = await http.batch('products', [
      { sku: 'TOL-0009', title: 'Wrench', price: 9.99, category: 'tools', stock: 3, discontinued: false },
      { sku: 'BOK-0001', title: 'Again', price: 1, category: 'books', stock: 1, discontinued: false },
      { sku: 'TOL-0009', title: 'Twice', price: 1, category: 'tools', stock: 1, discontinued: false },
    ]);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ received: 3, inserted: 1, rejected: 2 });
    expect(res.json().rejects.map((r: Reject) => [r.index, r.reason, r.message])).toEqual([
      [1, 'duplicate_id', 'sku BOK-0001 already exists in products'],
      [2, 'duplicate_id', 'sku TOL-0009 appears more than once in this source'],
    ]);
    expect(await storedRows(t, 'products')).toEqual([
      ...PRODUCTS,
      product('TOL-0009', 'Wrench', null, '9.99', null, 'tools', 3),
    ]);
  });

  it("takes text/csv batches in the table's own format: header line, delimiter and NULL texts", async () => {
    const csv = (table: string, text: string) =>
      t.app.inject({
        method: 'POST',
        url: `/load_data_from_payload/${table}`,
        headers: { ...auth, 'content-type': 'text/csv' },
        payload: text,
      });
    let res = await csv(
      'products',
      'stock;sku;title;description;price;weight_kg;category;discontinued\n5;TOL-0011;Vice;NA;30;NA;tools;0\n',
    );
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ received: 1, inserted: 1, rejected: 0 });
    expect((await storedRows(t, 'products')).find((p) => p.sku === 'TOL-0011')).toEqual(
      product('TOL-0011', 'Vice', null, '30.00', null, 'tools', 5),
    );
    // A header table's batch needs its header line too.
    res = await csv('order_lines', '1003,2,BOK-0001,1,1.00,false,x\n');
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json().error.code).toBe('invalid_csv');
    expect(res.json().error.message).toContain("no field for 'order_id'");
    await t.ctx.engine.db.deleteFrom('products').where('sku', '=', 'TOL-0011').execute();
  });

  it('appends batch rows to page_views (no key), the same rows twice', async () => {
    const rows = [
      { viewed_at: '2021-07-02 08:00:00', customer_id: 1, path: '/cart' },
      { viewed_at: '2021-07-02T08:00:01.250', customer_id: null, path: '/' },
    ];
    for (const n of [6, 8]) {
      const res = await http.batch('page_views', rows);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ received: 2, inserted: 2, rejected: 0 });
      expect(await countRows(t, 'page_views')).toBe(n);
    }
    const extra = [
      { viewed_at: '2021-07-02T08:00:00.000Z', customer_id: '1', path: '/cart' },
      { viewed_at: '2021-07-02T08:00:01.250Z', customer_id: null, path: '/' },
    ];
    expect(await storedRows(t, 'page_views')).toEqual(
      [...PAGE_VIEWS, ...extra, ...extra].sort((a, b) =>
        a.viewed_at < b.viewed_at ? -1 : a.viewed_at > b.viewed_at ? 1 : 0,
      ),
    );
  });

  it.each(['order_lines', 'products', 'page_views'])(
    'backs up %s and restores the same rows',
    async (table) => {
      const before = await storedRows(t, table);
      const b = await http.backup(table);
      expect(b.statusCode, b.body).toBe(200);
      expect(b.json().rows).toBe(before.length);
      // Change the table: drop a row, and (keyless) append one.
      const db = t.ctx.engine.db;
      if (table === 'order_lines') await db.deleteFrom(table).where('line_no', '=', 2).execute();
      if (table === 'products')
        await db.updateTable(table).set({ stock: 999 }).where('sku', '=', 'TOL-0009').execute();
      if (table === 'page_views') await db.deleteFrom(table).where('path', '=', '/cart').execute();
      expect(await storedRows(t, table)).not.toEqual(before);
      const r = await http.restore(table);
      expect(r.statusCode, r.body).toBe(200);
      expect(r.json().rows_restored).toBe(before.length);
      expect(await storedRows(t, table)).toEqual(before);
    },
  );

  it('refuses with 409 restore_conflict a restore that would break references, changing nothing', async () => {
    // A product added after the products backup, and an order line that references it.
    const p = await http.batch('products', [
      { sku: 'TOL-0010', title: 'Vice', price: '30', category: 'tools', stock: 1, discontinued: false },
    ]);
    expect(p.json().inserted).toBe(1);
    const l = await http.batch('order_lines', [
      { order_id: 1003, line_no: 2, sku: 'TOL-0010', quantity: 1, unit_price: 30 },
    ]);
    expect(l.json().inserted, l.body).toBe(1);
    const products = await storedRows(t, 'products');
    let res = await http.restore('products');
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().error.code).toBe('restore_conflict');
    expect(res.json().error.message).toContain('TOL-0010');
    expect(await storedRows(t, 'products')).toEqual(products);

    // The other way: order_lines' backup references a product that is gone.
    const lines = await storedRows(t, 'order_lines');
    const b = await http.backup('order_lines');
    expect(b.statusCode, b.body).toBe(200);
    await t.ctx.engine.db.deleteFrom('order_lines').where('sku', '=', 'TOL-0002').execute();
    await t.ctx.engine.db.deleteFrom('products').where('sku', '=', 'TOL-0002').execute();
    const now = await storedRows(t, 'order_lines');
    expect(now.length).toBe(lines.length - 1);
    res = await http.restore('order_lines');
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().error.code).toBe('restore_conflict');
    expect(res.json().error.message).toContain('TOL-0002');
    expect(await storedRows(t, 'order_lines')).toEqual(now);
  });

  it('restores more than 1000 rows of order_lines and page_views (the table swap), keys and references kept', async () => {
    const header = 'order_id,line_no,sku,quantity,unit_price,gift,Customer note\n';
    const lines = Array.from(
      { length: 1500 },
      (_, i) =>
        `1003,${i + 10},BOK-000${1 + (i % 2)},${1 + (i % 9)},${i}.25,${i % 2 === 0},${i % 5 === 0 ? '' : `"note, ${i}"`}`,
    );
    await putSource(t, 'order_lines', header + lines.join('\n'));
    const views = Array.from(
      { length: 1500 },
      (_, i) =>
        `2021-08-01 00:00:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')},${i % 3 === 0 ? '' : 2},/p/${i}`,
    );
    await putSource(t, 'page_views', views.join('\n'));
    for (const table of ['order_lines', 'page_views'])
      expect((await http.load(table)).json().rejected).toBe(0);
    for (const table of ['order_lines', 'page_views']) {
      const before = await storedRows(t, table);
      expect(before.length).toBeGreaterThan(1500 - 1);
      expect((await http.backup(table)).statusCode).toBe(200);
      await t.ctx.engine.db.deleteFrom(table).execute();
      const res = await http.restore(table);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().rows_restored).toBe(before.length);
      expect(await storedRows(t, table)).toEqual(before);
    }
    // The swapped-in table keeps its key and its foreign keys.
    const db = t.ctx.engine.db;
    const def = t.ctx.catalogue.get('order_lines');
    const row = {
      order_id: '1003',
      line_no: 10,
      sku: 'BOK-0001',
      quantity: 1,
      unit_price: '1.00',
      gift: false,
      note: null,
    };
    const insert = (r: Row) =>
      db
        .insertInto('order_lines')
        .values(toDbRow(def, t.ctx.engine.caps, r))
        .execute();
    await expect(insert(row)).rejects.toThrow(/unique|duplicate/i);
    await expect(insert({ ...row, order_id: '4242', line_no: 1 })).rejects.toThrow(/foreign key/i);
    await insert({ ...row, line_no: 1 });
    await db.deleteFrom('order_lines').where('order_id', '=', '1003').where('line_no', '=', 1).execute();
    const dup = await http.batch('order_lines', [
      { order_id: 1003, line_no: 10, sku: 'BOK-0001', quantity: 1, unit_price: 1 },
    ]);
    expect(dup.json().rejects.map((r: Reject) => r.reason)).toEqual(['duplicate_id']);

    // A large restore whose rows reference a product that is gone: refused, nothing changed.
    await db.deleteFrom('order_lines').where('sku', '=', 'BOK-0002').execute();
    await db.deleteFrom('products').where('sku', '=', 'BOK-0002').execute();
    const now = await storedRows(t, 'order_lines');
    const res = await http.restore('order_lines');
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().error.code).toBe('restore_conflict');
    expect(res.json().error.message).toContain('BOK-0002');
    expect(await storedRows(t, 'order_lines')).toEqual(now);
  });
});
