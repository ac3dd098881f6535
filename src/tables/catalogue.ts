import { Value } from '@sinclair/typebox/value';
import { AppError } from '../errors.js';
import { demoCatalogue } from './demo.js';
import { CatalogueSchema, type CatalogueFile, type ColumnDef, type TableDef } from './types.js';

/**
 * The single source of truth for tables, columns and their rules. CSV parsing, JSON validation, DDL,
 * Avro schemas and SQL all read it; nothing else restates a column list.
 */
export class Catalogue {
  readonly tables: readonly TableDef[];
  private readonly byName: Map<string, TableDef>;

  constructor(file: CatalogueFile) {
    const problems = checkCatalogue(file);
    if (problems.length > 0) throw new Error(`invalid table catalogue: ${problems.join('; ')}`);
    this.tables = orderByReferences(file.tables);
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
        {
          details: { known_tables: this.names },
        },
      );
    }
    return table;
  }

  /** Columns of other tables that reference `name`, e.g. hired_employees.department_id for departments. */
  referencesTo(name: string): { table: TableDef; column: ColumnDef }[] {
    return this.tables.flatMap((table) =>
      table.columns.filter((c) => c.references === name).map((column) => ({ table, column })),
    );
  }
}

export function defaultCatalogue(): Catalogue {
  return new Catalogue(demoCatalogue);
}

function truncate(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

function checkCatalogue(file: CatalogueFile): string[] {
  if (!Value.Check(CatalogueSchema, file)) {
    return [...Value.Errors(CatalogueSchema, file)].map((e) => `${e.path || '/'}: ${e.message}`);
  }
  const problems: string[] = [];
  const names = new Set(file.tables.map((t) => t.name));
  if (names.size !== file.tables.length) problems.push('table names must be unique');
  for (const table of file.tables) {
    const [first] = table.columns;
    if (first.name !== 'id' || first.type !== 'integer')
      problems.push(`${table.name}: first column must be integer 'id'`);
    const columns = new Set(table.columns.map((c) => c.name));
    if (columns.size !== table.columns.length) problems.push(`${table.name}: column names must be unique`);
    for (const c of table.columns) {
      if (c.type === 'string' && !c.maxLength)
        problems.push(`${table.name}.${c.name}: string needs maxLength`);
      if (c.references && !names.has(c.references))
        problems.push(`${table.name}.${c.name}: unknown table ${c.references}`);
      if (c.references && c.type !== 'integer')
        problems.push(`${table.name}.${c.name}: references need integer`);
    }
  }
  return problems;
}

function orderByReferences(tables: TableDef[]): TableDef[] {
  const ordered: TableDef[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const byName = new Map(tables.map((t) => [t.name, t]));
  const visit = (t: TableDef) => {
    if (state.get(t.name) === 'done') return;
    if (state.get(t.name) === 'visiting')
      throw new Error(`invalid table catalogue: reference cycle at ${t.name}`);
    state.set(t.name, 'visiting');
    for (const c of t.columns) if (c.references && c.references !== t.name) visit(byName.get(c.references)!);
    state.set(t.name, 'done');
    ordered.push(t);
  };
  tables.forEach(visit);
  return ordered;
}
