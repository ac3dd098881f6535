import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalogue } from '../../src/tables/catalogue.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { api } from '../helpers/catalogue.js';
import { testEngines } from '../helpers/engines.js';

/**
 * Routes follow the catalogue: with the shop catalogue no metrics and no dashboard, the tables in
 * OpenAPI (the `table` enum, each row schema in the batch route) and at `/` and `/tables`; with the
 * demo catalogue the metrics routes and the dashboard as before.
 */
const SHOP_TABLES = ['customers', 'products', 'orders', 'order_lines', 'page_views'];
const METRICS = ['/hired_by_quarter/{year}', '/departments_above_mean/{year}'];

type Json = Record<string, any>;

describe.each(testEngines())('routes with the shop catalogue on $name', (engine) => {
  let t: TestApp;
  let openapi: Json;
  const get = (url: string) => t.app.inject({ method: 'GET', url });

  beforeAll(async () => {
    t = await createTestApp(engine, { withSamples: true, catalogue: loadCatalogue('catalogues/shop.yaml') });
    for (const table of ['customers', 'products', 'orders', 'order_lines'])
      expect((await api(t).load(table)).statusCode).toBe(200);
    openapi = (await get('/openapi.json')).json();
  });
  afterAll(async () => t?.close());

  it('has no metrics routes and no dashboard', async () => {
    for (const url of [
      '/hired_by_quarter/2021',
      '/departments_above_mean/2021',
      '/dashboard.js',
      '/assets/chart.umd.js',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
    }
    expect(Object.keys(openapi.paths).filter((p) => METRICS.includes(p))).toEqual([]);
    const tags = Object.values(openapi.paths as Json).flatMap((methods) =>
      Object.values(methods as Json).flatMap((op) => (op as Json).tags ?? []),
    );
    expect(tags).not.toContain('metrics');
    expect(tags).toEqual(expect.arrayContaining(['loads', 'inserts', 'backups', 'tables']));
  });

  it('lists the tables as the enum of every table parameter in OpenAPI', () => {
    const tableRoutes = Object.entries(openapi.paths as Json)
      .flatMap(([url, methods]) =>
        Object.entries(methods as Json).map(([method, op]) => ({ url, method, op: op as Json })),
      )
      .filter(({ op }) => (op.parameters ?? []).some((p: Json) => p.name === 'table'));
    expect(tableRoutes.map((r) => `${r.method} ${r.url}`).sort()).toEqual(
      [
        'get /backups/{table}',
        'get /rejects/{table}',
        'get /tables/{table}',
        'post /backup_table/{table}',
        'post /load_data_from_payload/{table}',
        'post /load_historic_data/{table}',
        'post /restore_backup/{table}',
      ].sort(),
    );
    for (const { op } of tableRoutes) {
      const param = op.parameters.find((p: Json) => p.name === 'table');
      expect(param.in).toBe('path');
      expect(param.schema.enum).toEqual(SHOP_TABLES);
    }
  });

  it("shows each table's row schema in the batch route's request body", () => {
    const body =
      openapi.paths['/load_data_from_payload/{table}'].post.requestBody.content['application/json'].schema;
    const rows = (body.oneOf as Json[]).filter((s) => s.type === 'object');
    expect(rows.map((r) => r.title)).toEqual(SHOP_TABLES);
    const arrays = (body.oneOf as Json[]).filter((s) => s.type === 'array');
    expect(arrays.map((a) => a.items.title)).toEqual(SHOP_TABLES);
    expect(arrays[0]).toMatchObject({ minItems: 1, maxItems: 1000 });
    const csv = openapi.paths['/load_data_from_payload/{table}'].post.requestBody.content['text/csv'].schema;
    expect(csv.description).toContain('header line first when the catalogue sets csv.header');
    const lines = rows.find((r) => r.title === 'order_lines')!;
    expect(Object.keys(lines.properties)).toEqual([
      'order_id',
      'line_no',
      'sku',
      'quantity',
      'unit_price',
      'gift',
      'note',
    ]);
    expect(lines.required).toEqual(['order_id', 'line_no', 'sku', 'quantity', 'unit_price']);
    expect(lines.additionalProperties).toBe(false);
    expect(lines.properties.line_no).toMatchObject({ type: 'integer', minimum: 1 });
    expect(lines.properties.quantity).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000 });
    expect(lines.properties.gift.default).toBe(false);
    // OpenAPI 3.0 spells a NULL as `nullable`.
    expect(lines.properties.note).toMatchObject({ type: 'string', nullable: true });
    expect(lines.properties.order_id.anyOf).toEqual([{ type: 'integer' }, { type: 'string' }]);
    const products = rows.find((r) => r.title === 'products')!;
    expect(products.properties.sku).toMatchObject({
      type: 'string',
      maxLength: 32,
      pattern: '^(?:[A-Z]{3}-[0-9]{4})$',
    });
    expect(products.properties.category.enum).toEqual(['books', 'games', 'music', 'tools']);
    expect(products.properties.weight_kg).toMatchObject({ type: 'number', nullable: true });
    expect(products.properties.price.anyOf).toEqual([{ type: 'number' }, { type: 'string' }]);
    const customers = rows.find((r) => r.title === 'customers')!;
    expect(customers.properties.birth_date).toMatchObject({ format: 'date' });
    expect(customers.properties.vip.default).toBe(false);
  });

  it('lists the tables at / with a link to /docs', async () => {
    const res = await get('/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const links = [...res.body.matchAll(/<a href="([^"]+)">([^<]+)<\/a>/g)].map((m) => [m[1], m[2]]);
    expect(links.slice(0, SHOP_TABLES.length)).toEqual(SHOP_TABLES.map((name) => [`tables/${name}`, name]));
    expect(links).toContainEqual(['docs', '/docs']);
    expect(res.body).not.toContain('dashboard.js');
    expect((await get('/docs')).statusCode).toBeLessThan(400);
  });

  it('answers GET /tables and GET /tables/order_lines with the catalogue and row counts', async () => {
    const res = await get('/tables');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.catalogue).toBe('catalogues/shop.yaml');
    expect(body.tables.map((x: Json) => [x.name, x.row_count])).toEqual([
      ['customers', 7],
      ['products', 6],
      ['orders', 4],
      ['order_lines', 4],
      ['page_views', 0],
    ]);
    const one = await get('/tables/order_lines');
    expect(one.statusCode).toBe(200);
    expect(one.json()).toEqual(body.tables[3]);
    expect(one.json()).toMatchObject({
      name: 'order_lines',
      primary_key: ['order_id', 'line_no'],
      unique: [],
      foreign_keys: [
        { columns: ['order_id'], references: { table: 'orders', columns: ['id'] } },
        { columns: ['sku'], references: { table: 'products', columns: ['sku'] } },
      ],
      source: 'shop/order_lines.csv',
      csv: { header: true, delimiter: ',', quote: '"', null_values: [''] },
      row_count: 4,
    });
    expect(one.json().columns).toContainEqual({
      name: 'note',
      type: 'text',
      nullable: true,
      csv_name: 'Customer note',
    });
    expect(one.json().columns[0]).toEqual({
      name: 'order_id',
      type: 'bigint',
      nullable: false,
      csv_name: 'order_id',
    });
    expect(body.tables[4]).toMatchObject({ name: 'page_views', primary_key: [] });
    const unknown = await get('/tables/hired_employees');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toMatchObject({ code: 'unknown_table', known_tables: SHOP_TABLES });
  });
});

describe.each(testEngines())('routes with the demo catalogue on $name', (engine) => {
  let t: TestApp;
  const get = (url: string) => t.app.inject({ method: 'GET', url });

  beforeAll(async () => {
    t = await createTestApp(engine, { withSamples: true });
    for (const table of ['departments', 'jobs', 'hired_employees'])
      expect((await api(t).load(table)).statusCode).toBe(200);
  });
  afterAll(async () => t?.close());

  it('serves the metrics and the dashboard as before', async () => {
    const quarters = await get('/hired_by_quarter/2021');
    expect(quarters.statusCode).toBe(200);
    expect(quarters.json().rows.length).toBeGreaterThan(0);
    expect(quarters.json().rows[0]).toEqual(
      expect.objectContaining({
        department: expect.any(String),
        job: expect.any(String),
        Q1: expect.any(Number),
      }),
    );
    const above = await get('/departments_above_mean/2021');
    expect(above.statusCode).toBe(200);
    expect(above.json().rows.length).toBeGreaterThan(0);
    const page = await get('/');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('dashboard.js');
    expect((await get('/dashboard.js')).statusCode).toBe(200);
    const openapi = (await get('/openapi.json')).json();
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(METRICS));
    expect(
      openapi.paths['/load_historic_data/{table}'].post.parameters.find((p: Json) => p.name === 'table')
        .schema.enum,
    ).toEqual(['departments', 'jobs', 'hired_employees']);
    const tables = (await get('/tables')).json();
    expect(tables.tables.map((x: Json) => [x.name, x.row_count])).toEqual([
      ['departments', 12],
      ['jobs', 183],
      ['hired_employees', 1979],
    ]);
  });
});
