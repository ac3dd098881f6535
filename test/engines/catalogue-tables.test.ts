import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { foreignKeyNames } from '../../src/db/ddl.js';
import { createEngine } from '../../src/db/index.js';
import { createMigrator, ensureCatalogueTables, migrateToLatest } from '../../src/db/migrator.js';
import { Catalogue, defaultCatalogue } from '../../src/tables/catalogue.js';
import { parseCatalogue } from '../../src/tables/catalogue-file.js';
import { openMigrated, testEngines } from '../helpers/engines.js';

const yaml = (text: string) => new Catalogue(parseCatalogue(`tables:\n${text}`, 'test.yaml'));

// Children listed before their parents: the catalogue orders them, and so must the creation.
const SHOP = `
  - name: order_lines
    primary_key: [order_id, line_no]
    columns:
      - { name: order_id, type: bigint, references: orders.id }
      - { name: line_no, type: integer, min: 1 }
      - { name: sku, type: string, max_length: 32, references: products.sku }
      - { name: price, type: decimal, precision: 12, scale: 2 }
  - name: orders
    primary_key: [id]
    columns:
      - { name: id, type: bigint }
      - { name: customer, type: string, max_length: 40, nullable: true }
      - { name: total, type: decimal, precision: 12, scale: 2 }
      - { name: paid, type: boolean, default: false }
      - { name: note, type: text, nullable: true, default: "it's \\\\ fine" }
  - name: products
    primary_key: [sku]
    columns:
      - { name: sku, type: string, max_length: 32 }
      - { name: name, type: string, max_length: 100 }
    unique: [[name]]
`;

describe.each(testEngines())('catalogue tables at start on $name', (testEngine) => {
  it('creates the missing tables of the catalogue in foreign-key order on an existing database, with foreign-key indexes', async () => {
    const { engine, close } = await openMigrated(testEngine, defaultCatalogue());
    try {
      const shop = new Catalogue([...defaultCatalogue().tables, ...yaml(SHOP).tables]);
      expect(shop.names.indexOf('orders')).toBeLessThan(shop.names.indexOf('order_lines'));
      // migrate again, with the larger catalogue: no migration is pending, the new tables are created.
      const result = await migrateToLatest(createMigrator(engine, shop));
      expect(result.applied).toEqual([]);
      expect(result.created).toEqual(['orders', 'products', 'order_lines']);
      const lines = shop.get('order_lines');
      const shape = (await engine.schema.describe(engine.db, 'order_lines'))!;
      expect(shape.primaryKey).toEqual(['order_id', 'line_no']);
      // order_id leads the primary key; sku needs an index of its own.
      expect(shape.indexes).toContainEqual(['sku']);
      expect(foreignKeyNames(lines)).toEqual(['fk_order_lines_order_id', 'fk_order_lines_sku']);
      expect((await engine.schema.describe(engine.db, 'orders'))!.columns.get('customer')!.nullable).toBe(
        true,
      );
      // Defaults, a foreign key and a unique key in force.
      await sql`INSERT INTO orders (id, total) VALUES (1, 2.50)`.execute(engine.db);
      const [order] = (await sql<Record<string, unknown>>`SELECT * FROM orders`.execute(engine.db)).rows;
      expect(engine.caps.decodeValue(shop.get('orders').columns[3], order.paid)).toBe(false);
      expect(order.note).toBe("it's \\ fine");
      const orphan = await sql`INSERT INTO order_lines (order_id, line_no, sku, price) VALUES (2, 1, 'x', 1)`
        .execute(engine.db)
        .then(
          () => null,
          (e: Error) => e,
        );
      expect(orphan).toBeInstanceOf(Error);
      // Running it again changes nothing and finds no difference.
      expect((await migrateToLatest(createMigrator(engine, shop))).created).toEqual([]);
      expect(await ensureCatalogueTables(engine, shop)).toEqual([]);
    } finally {
      await close();
    }
  });

  it('refuses a table that differs from the catalogue, naming the table and the column', async () => {
    const { engine, close } = await openMigrated(testEngine, yaml(SHOP));
    try {
      const differs = async (text: string) =>
        ensureCatalogueTables(engine, yaml(text)).then(
          () => null,
          (e: Error & { code?: string }) => e,
        );
      const changed = (from: string, to: string) => {
        expect(SHOP).toContain(from);
        return SHOP.replace(from, to);
      };
      let err = await differs(
        changed('{ name: total, type: decimal, precision: 12, scale: 2 }', '{ name: total, type: integer }'),
      );
      expect(err?.code).toBe('migration_failed');
      expect(err?.message).toMatch(
        /table orders exists but differs from the catalogue: column total is (decimal\(12,2\)|numeric\(12,2\)|text) in the database, integer/,
      );
      err = await differs(
        changed(
          '{ name: customer, type: string, max_length: 40, nullable: true }',
          '{ name: customer, type: string, max_length: 40 }',
        ),
      );
      expect(err?.message).toMatch(
        /table orders .*column customer is nullable in the database, NOT NULL in the catalogue/,
      );
      err = await differs(
        changed(
          '      - { name: price, type: decimal, precision: 12, scale: 2 }',
          '      - { name: price, type: decimal, precision: 12, scale: 2 }\n      - { name: qty, type: integer }',
        ),
      );
      expect(err?.message).toMatch(/table order_lines .*column qty is missing from the database/);
      err = await differs(
        changed('      - { name: name, type: string, max_length: 100 }\n    unique: [[name]]\n', ''),
      );
      expect(err?.message).toMatch(/table products .*column name is in the database, not in the catalogue/);
      err = await differs(changed('primary_key: [order_id, line_no]', 'primary_key: [order_id]'));
      expect(err?.message).toMatch(
        /table order_lines .*primary key is \(order_id, line_no\) in the database, \(order_id\) in the catalogue/,
      );
      if (engine.kind !== 'sqlite') {
        // A string column shorter in the database than the catalogue's max_length would refuse rows.
        err = await differs(
          changed(
            '{ name: customer, type: string, max_length: 40, nullable: true }',
            '{ name: customer, type: string, max_length: 41, nullable: true }',
          ),
        );
        expect(err?.message).toMatch(
          /column customer is (varchar|character varying)\(40\) in the database, string\(41\)/,
        );
      }
      // The same catalogue passes.
      expect(await ensureCatalogueTables(engine, yaml(SHOP))).toEqual([]);
    } finally {
      await close();
    }
  });

  it('fails the migrate at start when a table differs', async () => {
    const database = await testEngine.create();
    const engine = await createEngine(database.url);
    try {
      await sql`CREATE TABLE orders (id bigint PRIMARY KEY, total varchar(10) NOT NULL)`.execute(engine.db);
      const err = await migrateToLatest(
        createMigrator(
          engine,
          yaml(SHOP.slice(SHOP.indexOf('  - name: orders'), SHOP.indexOf('  - name: products'))),
        ),
      ).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(
        /table orders exists but differs from the catalogue: .*column customer is missing from the database, string\(40\)/,
      );
      expect(err?.message).toMatch(
        /column total is (varchar\(10\)|character varying\(10\)|varchar\(10\)) in the database, decimal\(12,2\)/i,
      );
    } finally {
      await engine.close();
      await database.drop();
    }
  });
});
