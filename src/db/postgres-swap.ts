import type pg from 'pg';

/**
 * Replace by table swap, PostgreSQL's fast path for a restore, all inside the job's transaction (DDL
 * is transactional here, so a failure anywhere rolls every step back). The rows COPY into a staging
 * table made `LIKE` the table without its indexes and keys, so no index is maintained and no foreign-key
 * trigger fires per row; the indexes are then built once each and the foreign keys validated with one
 * join each, the table dropped, and the staging table renamed into its place with the original index
 * and constraint names. Readers see the old rows until the commit: the table itself is locked only by
 * the final DROP, moments before it. DELETE + COPY, the other path, spends as long deleting the old rows
 * as loading the new ones, and checks every foreign key row by row.
 *
 * Only for a table that no foreign key references (itself included), that no view depends on, and that
 * has no triggers of its own: a DROP would take them along. Grants on the table are not carried over.
 */
export interface PgSwapPlan {
  /** Creates the staging table. */
  createStage(client: pg.PoolClient, stage: string): Promise<void>;
  /** Builds indexes and keys on the loaded staging table and swaps it in, in the job's transaction. */
  swap(client: pg.PoolClient, stage: string): Promise<void>;
}

interface Part {
  name: string;
  /** A constraint (primary key, unique, foreign key, exclusion) or a plain index. */
  kind: 'constraint' | 'index';
  definition: string;
}

/** The plan for `table`, or null when it cannot be replaced by a swap (see PgSwapPlan). */
export async function planPgSwap(client: pg.PoolClient, table: string): Promise<PgSwapPlan | null> {
  const target = quote(table);
  const { rows: blockers } = await client.query<{ n: number }>(
    `SELECT (SELECT COUNT(*) FROM pg_constraint WHERE confrelid = $1::regclass AND contype = 'f')
          + (SELECT COUNT(*) FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal)
          + (SELECT COUNT(*) FROM pg_depend WHERE refobjid = $1::regclass AND classid = 'pg_rewrite'::regclass)
          + (SELECT COUNT(*) FROM pg_inherits WHERE inhparent = $1::regclass OR inhrelid = $1::regclass) AS n`,
    [target],
  );
  if (Number(blockers[0].n) > 0) return null;
  // CHECK and NOT NULL constraints come with LIKE … INCLUDING ALL; these are the ones that need indexes.
  const { rows } = await client.query<Part>(
    `SELECT conname AS name, 'constraint' AS kind, pg_get_constraintdef(oid) AS definition
       FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'f', 'x')
     UNION ALL
     SELECT i.relname, 'index', pg_get_indexdef(x.indexrelid)
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
      WHERE x.indrelid = $1::regclass
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid)`,
    [target],
  );
  // Foreign keys last: their validation joins are cheaper once the indexes exist.
  const parts = [...rows].sort((a, b) => rank(a) - rank(b));
  // Index names are unique in a schema: the temporary ones carry the (random) staging table's name.
  const temporary = (stage: string, i: number) => `${stage}_${i}`;
  const built: ((stage: string) => string)[] = [];
  for (const [i, part] of parts.entries()) {
    if (part.kind === 'constraint') {
      built.push(
        (stage) =>
          `ALTER TABLE ${quote(stage)} ADD CONSTRAINT ${quote(temporary(stage, i))} ${part.definition}`,
      );
      continue;
    }
    const create =
      /^(CREATE (?:UNIQUE )?INDEX )(?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)( ON (?:ONLY )?)(?:(?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)\.)?(?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)( USING .*)$/s.exec(
        part.definition,
      );
    if (!create) return null;
    built.push((stage) => `${create[1]}${quote(temporary(stage, i))}${create[2]}${quote(stage)}${create[3]}`);
  }
  return {
    async createStage(c, stage) {
      await c.query(`CREATE TABLE ${quote(stage)} (LIKE ${target} INCLUDING ALL EXCLUDING INDEXES)`);
    },
    async swap(c, stage) {
      for (const statement of built) await c.query(statement(stage));
      await c.query(`DROP TABLE ${target}`);
      await c.query(`ALTER TABLE ${quote(stage)} RENAME TO ${target}`);
      for (const [i, part] of parts.entries()) {
        await c.query(
          part.kind === 'constraint'
            ? `ALTER TABLE ${target} RENAME CONSTRAINT ${quote(temporary(stage, i))} TO ${quote(part.name)}`
            : `ALTER INDEX ${quote(temporary(stage, i))} RENAME TO ${quote(part.name)}`,
        );
      }
    },
  };
}

function rank(part: Part): number {
  return part.kind === 'constraint' && part.definition.startsWith('FOREIGN KEY') ? 1 : 0;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
