import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../errors.js';
import { CatalogueError, parseCatalogue } from './catalogue-file.js';
import type { ColumnDef, ForeignKey, TableDef } from './types.js';

/** The shipped demo catalogue, the default: beside src/ and dist/ alike. */
export const DEMO_CATALOGUE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'catalogues',
  'demo.yaml',
);

/**
 * The single source of truth for tables, columns and their rules. CSV parsing, JSON validation, DDL,
 * Avro schemas and SQL all read it; nothing else restates a column list.
 */
export class Catalogue {
  /** Parents before the tables that reference them. */
  readonly tables: readonly TableDef[];
  private readonly byName: Map<string, TableDef>;

  /** @param tables checked TableDefs (parseCatalogue), in any order */
  constructor(
    tables: readonly TableDef[],
    /** Where the catalogue was read from, for messages and GET /tables. */
    readonly file = '(built in)',
  ) {
    this.tables = orderByReferences(tables);
    this.byName = new Map(this.tables.map((t) => [t.name, t]));
  }

  /** Table names, parents before the tables that reference them. */
  get names(): string[] {
    return this.tables.map((t) => t.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** @throws AppError unknown_table, listing the known tables. */
  get(name: string): TableDef {
    const table = this.byName.get(name);
    if (!table) {
      throw new AppError(
        'unknown_table',
        `unknown table '${truncate(name)}'; known tables: ${this.names.join(', ')}`,
        { details: { known_tables: this.names } },
      );
    }
    return table;
  }

  /** Foreign keys of other tables (and of `name` itself) that reference `name`. */
  referencesTo(name: string): { table: TableDef; key: ForeignKey }[] {
    return this.tables.flatMap((table) =>
      table.foreign_keys.filter((key) => key.references.table === name).map((key) => ({ table, key })),
    );
  }
}

/**
 * Reads and checks a catalogue file (.yaml, .yml or .json).
 * @throws CatalogueError listing every problem with its place in the file
 */
export function loadCatalogue(file: string): Catalogue {
  if (!/\.(ya?ml|json)$/i.test(file))
    throw new CatalogueError(file, ['the catalogue must be a .yaml, .yml or .json file']);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CatalogueError(file, [`cannot be read: ${(e as Error).message}`]);
  }
  return new Catalogue(parseCatalogue(text, file), file);
}

export function defaultCatalogue(): Catalogue {
  return loadCatalogue(DEMO_CATALOGUE);
}

/** A column of a table, by name (the catalogue has checked that it exists). */
export function columnOf(table: TableDef, name: string): ColumnDef {
  const column = table.columns.find((c) => c.name === name);
  if (!column) throw new Error(`${table.name} has no column ${name}`);
  return column;
}

function truncate(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

/** Parents first; the file reader has refused cycles (a table may reference itself). */
function orderByReferences(tables: readonly TableDef[]): TableDef[] {
  const ordered: TableDef[] = [];
  const done = new Set<string>();
  const byName = new Map(tables.map((t) => [t.name, t]));
  const visit = (t: TableDef, depth: number) => {
    if (done.has(t.name) || depth > tables.length) return;
    for (const fk of t.foreign_keys) {
      const parent = byName.get(fk.references.table);
      if (parent && parent !== t) visit(parent, depth + 1);
    }
    if (!done.has(t.name)) {
      done.add(t.name);
      ordered.push(t);
    }
  };
  for (const t of tables) visit(t, 0);
  return ordered;
}
