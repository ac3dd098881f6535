import { randomBytes } from 'node:crypto';
import type mysql from 'mysql2';

type Conn = mysql.PoolConnection;

/**
 * Replace by table swap, MariaDB/MySQL's fast path for a restore. The rows stream into a staging table
 * made from the table's own definition with the primary key only; its secondary indexes and foreign
 * keys are added after the load (one sorted build per index, about a third cheaper than maintaining
 * them row by row: ../shared/PERF-NOTES.md), and `RENAME TABLE t TO old, stage TO t` swaps the two in
 * one atomic step. Readers see the old rows until that step, and the new ones after it. DELETE + INSERT
 * in one transaction, the other path, spends as long deleting the old rows as loading the new ones.
 *
 * Only for a table that no foreign key references (itself included): InnoDB would move such keys to
 * `old` along with the rename. Nor with triggers, which the swap would drop with `old`.
 *
 * Foreign-key names are unique in a schema, so the staging table's keys get temporary names (`dp_` and
 * the real name) until `old` is dropped, and then their own, in one ALTER that drops and adds them
 * (instant with FOREIGN_KEY_CHECKS = 0: the rows were checked before the swap). A process killed inside
 * that window leaves working keys named `dp_…` and an `old` table named `dataport_stage_…`, which the
 * start-up sweep drops.
 */
export interface SwapPlan {
  /** CREATE TABLE for the staging table: columns, primary key and CHECK constraints. */
  createStage(stage: string): string;
  /** Adds the secondary indexes and foreign keys to the loaded staging table. */
  finish(conn: Conn, stage: string): Promise<void>;
  /** Swaps the staging table in and drops the old rows; run after the job committed. */
  swap(conn: Conn, stage: string): Promise<void>;
}

/** The plan for `table`, or null when it cannot be replaced by a swap (see SwapPlan). */
export async function planSwap(conn: Conn, table: string): Promise<SwapPlan | null> {
  const [blockers] = (await query(
    conn,
    `SELECT
       (SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS
         WHERE CONSTRAINT_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME = ?) AS refs,
       (SELECT COUNT(*) FROM information_schema.TRIGGERS
         WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ?) AS triggers`,
    [table, table],
  )) as { refs: number; triggers: number }[];
  if (Number(blockers.refs) > 0 || Number(blockers.triggers) > 0) return null;
  const [shown] = (await query(conn, `SHOW CREATE TABLE ${quote(table)}`)) as Record<string, string>[];
  const parts = splitCreate(shown['Create Table'], table);
  if (!parts) return null;
  const { head, kept, indexes, foreignKeys, tail } = parts;
  if (foreignKeys.some((fk) => fk.name.length > 61)) return null;
  const temporary = (name: string) => `dp_${name}`;
  return {
    createStage: (stage) => `CREATE TABLE ${quote(stage)}${head}${kept.join(',\n')}\n${tail}`,
    async finish(side, stage) {
      const adds = [
        ...indexes.map((definition) => `ADD ${definition}`),
        ...foreignKeys.map((fk) => `ADD CONSTRAINT ${quote(temporary(fk.name))} ${fk.body}`),
      ];
      if (!adds.length) return;
      await run(side, 'SET FOREIGN_KEY_CHECKS = 0');
      try {
        await run(side, `ALTER TABLE ${quote(stage)} ${adds.join(', ')}`);
      } finally {
        await run(side, 'SET FOREIGN_KEY_CHECKS = 1');
      }
    },
    async swap(side, stage) {
      const old = `dataport_stage_${randomBytes(6).toString('hex')}`;
      await run(side, `RENAME TABLE ${quote(table)} TO ${quote(old)}, ${quote(stage)} TO ${quote(table)}`);
      await run(side, `DROP TABLE ${quote(old)}`);
      if (!foreignKeys.length) return;
      const renames = foreignKeys.map(
        (fk) => `DROP FOREIGN KEY ${quote(temporary(fk.name))}, ADD CONSTRAINT ${quote(fk.name)} ${fk.body}`,
      );
      await run(side, 'SET FOREIGN_KEY_CHECKS = 0');
      try {
        await run(side, `ALTER TABLE ${quote(table)} ${renames.join(', ')}`);
      } finally {
        await run(side, 'SET FOREIGN_KEY_CHECKS = 1');
      }
    },
  };
}

interface CreateParts {
  /** From after the table's name to the opening parenthesis and line break. */
  head: string;
  /** Column definitions, the primary key and CHECK constraints, for the staging table. */
  kept: string[];
  /** Secondary index definitions (KEY, UNIQUE KEY, FULLTEXT KEY, …), added after the load. */
  indexes: string[];
  foreignKeys: { name: string; body: string }[];
  /** From the closing parenthesis: the table options. */
  tail: string;
}

/**
 * SHOW CREATE TABLE prints one definition per line, quoted with the session's quote character (the
 * engine's sessions use ANSI_QUOTES). Anything unexpected answers null: the caller falls back.
 */
export function splitCreate(text: string, table: string): CreateParts | null {
  const lines = text.split('\n');
  const first = lines[0];
  const name = /^CREATE TABLE ("(?:[^"]|"")+"|`(?:[^`]|``)+`) \($/.exec(first);
  const last = lines[lines.length - 1];
  if (!name || !last.startsWith(')') || unquote(name[1]) !== table) return null;
  const parts: CreateParts = { head: ' (\n', kept: [], indexes: [], foreignKeys: [], tail: last };
  for (const raw of lines.slice(1, -1)) {
    const line = raw.trim().replace(/,$/, '');
    const fk = /^CONSTRAINT ("(?:[^"]|"")+"|`(?:[^`]|``)+`) (FOREIGN KEY .*)$/.exec(line);
    if (fk) parts.foreignKeys.push({ name: unquote(fk[1]), body: fk[2] });
    else if (/^(UNIQUE |FULLTEXT |SPATIAL )?KEY /.test(line)) parts.indexes.push(line);
    else if (/^PRIMARY KEY /.test(line) || /^CONSTRAINT .* CHECK /.test(line) || /^["`]/.test(line))
      parts.kept.push(`  ${line}`);
    else return null;
  }
  return parts;
}

function unquote(quoted: string): string {
  const q = quoted[0];
  return quoted.slice(1, -1).replaceAll(q + q, q);
}

const quote = (name: string) => `\`${name.replace(/`/g, '``')}\``;

function query(conn: Conn, sql: string, values: unknown[] = []): Promise<unknown> {
  return new Promise((resolve, reject) =>
    conn.query(sql, values, (err, result) => (err ? reject(err) : resolve(result))),
  );
}

async function run(conn: Conn, sql: string): Promise<void> {
  await query(conn, sql);
}
