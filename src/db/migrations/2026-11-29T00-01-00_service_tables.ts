import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.js';

/** The service's own tables: one row per load run, one per rejected row. */
export function serviceTables({ caps, kind }: MigrationContext) {
  return {
    async up(db: Kysely<any>) {
      const when = 'varchar(32)'; // ISO-8601 UTC text: sorts in time order on every engine
      await db.schema
        .createTable('dataport_loads')
        .ifNotExists()
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('table_name', 'varchar(64)', (c) => c.notNull())
        .addColumn('kind', 'varchar(16)', (c) => c.notNull())
        .addColumn('source', 'varchar(1100)', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('rows_read', caps.types.bigint as 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('loaded', caps.types.bigint as 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('rejected', caps.types.bigint as 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('error', caps.types.text as 'text')
        .addColumn('started_at', when, (c) => c.notNull())
        .addColumn('finished_at', when)
        .execute();
      await db.schema
        .createTable('dataport_rejects')
        .ifNotExists()
        .addColumn('id', kind === 'postgres' ? 'bigserial' : (caps.types.bigint as 'bigint'), (c) =>
          kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('load_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('table_name', 'varchar(64)', (c) => c.notNull())
        .addColumn('source', 'varchar(1100)', (c) => c.notNull())
        .addColumn('line', caps.types.bigint as 'bigint')
        .addColumn('row_index', 'integer')
        .addColumn('column_name', 'varchar(64)')
        .addColumn('reason', 'varchar(32)', (c) => c.notNull())
        .addColumn('message', 'varchar(1000)', (c) => c.notNull())
        .addColumn('raw', caps.types.text as 'text', (c) => c.notNull())
        .addColumn('created_at', when, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('ix_rejects_table')
        .on('dataport_rejects')
        .columns(['table_name', 'id'])
        .execute();
      await db.schema
        .createIndex('ix_rejects_load')
        .on('dataport_rejects')
        .columns(['load_id', 'id'])
        .execute();
      await db.schema
        .createIndex('ix_loads_table')
        .on('dataport_loads')
        .columns(['table_name', 'started_at'])
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('dataport_rejects').ifExists().execute();
      await db.schema.dropTable('dataport_loads').ifExists().execute();
    },
  };
}
