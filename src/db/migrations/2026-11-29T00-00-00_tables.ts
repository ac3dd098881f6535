import type { Kysely } from 'kysely';
import { createTableFor } from '../ddl.js';
import type { MigrationContext } from './index.js';

/** The catalogue's tables as they were when this migration was written, parents first. */
export function tables({ caps, catalogue }: MigrationContext) {
  return {
    async up(db: Kysely<any>) {
      for (const table of catalogue.tables) await createTableFor(db, caps, table).execute();
    },
    async down(db: Kysely<any>) {
      for (const table of [...catalogue.tables].reverse())
        await db.schema.dropTable(table.name).ifExists().execute();
    },
  };
}
