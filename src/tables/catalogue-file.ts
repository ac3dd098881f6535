import { isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { normalizeKey } from '../storage/keys.js';
import { columnTypes, isViolation, typeLabel, typeOf } from './column-types.js';
import {
  typeNames,
  type ColumnDef,
  type CsvOptions,
  type ForeignKey,
  type TableDef,
  type Value,
} from './types.js';

/** A catalogue file that cannot be used: every problem, each with its place in the file. */
export class CatalogueError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(
      `invalid catalogue ${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  - ${problems.join('\n  - ')}`,
    );
    this.name = 'CatalogueError';
  }
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/;
const TABLE_KEYS = ['name', 'primary_key', 'source', 'csv', 'columns', 'unique', 'foreign_keys'];
const COLUMN_KEYS = ['name', 'type', 'nullable', 'enum', 'default', 'references', 'csv_name'];
const CSV_KEYS = ['header', 'delimiter', 'quote', 'null_values'];

type Path = (string | number)[];

/**
 * Reads a catalogue file (YAML, or JSON, which YAML reads too) into checked TableDefs, in file order.
 * Unknown keys, bad names, types and values, keys and foreign keys that name missing columns, and
 * foreign keys that form a cycle are all collected, so one error lists every problem.
 * @throws CatalogueError
 */
export function parseCatalogue(text: string, file: string): TableDef[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new CatalogueError(
      file,
      doc.errors.map((e) => {
        const at = e.linePos?.[0];
        const message = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
        return `${at ? `line ${at.line}, column ${at.col}: ` : ''}${message}`;
      }),
    );
  }
  const reader = new Reader(doc, lineCounter);
  const tables = reader.read();
  if (reader.problems.length > 0) throw new CatalogueError(file, reader.problems);
  return tables;
}

class Reader {
  readonly problems: string[] = [];

  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  private problem(path: Path, message: string): void {
    // A key that is missing is placed at the nearest thing that is there.
    let node: { range?: [number, number, number] } | undefined;
    for (let n = path.length; n >= 0 && !node?.range; n--)
      node = this.doc.getIn(path.slice(0, n), true) as typeof node;
    const at = node?.range ? this.lines.linePos(node.range[0]) : undefined;
    this.problems.push(`${pathText(path)}${at ? ` (line ${at.line})` : ''}: ${message}`);
  }

  /** The plain value at `path`. */
  private get(path: Path): unknown {
    const node = this.doc.getIn(path, true) as { toJSON?: () => unknown } | undefined;
    if (node === undefined || node === null) return node;
    return isScalar(node) ? node.value : node.toJSON!();
  }

  /** A scalar's text as written (numbers keep every digit), for values the column's type reads. */
  private text(path: Path): string | undefined {
    const node = this.doc.getIn(path, true);
    if (!isScalar(node)) return undefined;
    if (typeof node.value === 'string') return node.value;
    return node.source ?? String(node.value);
  }

  private keysOf(path: Path, allowed: string[]): Record<string, unknown> | null {
    const value = path.length ? this.get(path) : this.doc.toJS();
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.problem(path, 'must be a mapping (key: value)');
      return null;
    }
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object))
      if (!allowed.includes(key))
        this.problem([...path, key], `unknown key '${key}' (allowed: ${allowed.join(', ')})`);
    return object;
  }

  read(): TableDef[] {
    const root = this.keysOf([], ['tables']);
    if (!root) return [];
    const list = root.tables;
    if (!Array.isArray(list) || list.length === 0) {
      this.problem(['tables'], 'must be a list of at least one table');
      return [];
    }
    const tables = list.map((_, i) => this.table(['tables', i])).filter((t): t is TableDef => t !== null);
    this.checkAcross(tables);
    return tables;
  }

  private name(path: Path, what: string): string | null {
    const name = this.get(path);
    if (typeof name !== 'string' || !NAME.test(name)) {
      this.problem(
        path,
        `${what} name must match ^[a-z][a-z0-9_]{0,62}$ (lower case, digits, _), got ${JSON.stringify(name) ?? 'nothing'}`,
      );
      return null;
    }
    return name;
  }

  private table(path: Path): TableDef | null {
    const object = this.keysOf(path, TABLE_KEYS);
    if (!object) return null;
    const name = this.name([...path, 'name'], 'a table');
    const columnList = object.columns;
    if (!Array.isArray(columnList) || columnList.length === 0) {
      this.problem([...path, 'columns'], 'must be a list of at least one column');
      return null;
    }
    const columns: ColumnDef[] = [];
    const references: ForeignKey[] = [];
    columnList.forEach((_, i) => {
      const column = this.column([...path, 'columns', i], references);
      if (column) columns.push(column);
    });
    const seen = new Set<string>();
    columns.forEach((c, i) => {
      if (seen.has(c.name)) this.problem([...path, 'columns', i, 'name'], `column '${c.name}' appears twice`);
      seen.add(c.name);
    });
    const primary =
      object.primary_key === undefined ? [] : this.columnList([...path, 'primary_key'], columns);
    for (const c of primary) {
      const column = columns.find((x) => x.name === c)!;
      if (column && !typeOf(column).keyable)
        this.problem(
          [...path, 'primary_key'],
          `column '${c}' is ${column.type}: a key takes integer, bigint, string, date or decimal columns`,
        );
      if (column?.nullable)
        this.problem([...path, 'primary_key'], `column '${c}' is nullable: a primary key column cannot be`);
    }
    const unique: string[][] = [];
    if (object.unique !== undefined) {
      const list = this.get([...path, 'unique']);
      if (!Array.isArray(list))
        this.problem([...path, 'unique'], 'must be a list of column lists, e.g. [[sku, order_id]]');
      else list.forEach((_, i) => unique.push(this.columnList([...path, 'unique', i], columns)));
    }
    const foreign = [
      ...references,
      ...this.foreignKeys([...path, 'foreign_keys'], object.foreign_keys, columns),
    ];
    const csv = this.csv([...path, 'csv'], object.csv);
    let source = name ? `database/${name}/historic/${name}.csv` : '';
    if (object.source !== undefined) {
      const given = this.get([...path, 'source']);
      try {
        if (typeof given !== 'string') throw new Error('must be a bucket key (text)');
        source = normalizeKey(given);
      } catch (e) {
        this.problem([...path, 'source'], (e as Error).message);
      }
    }
    if (!name) return null;
    return { name, columns, primary_key: primary, unique, foreign_keys: foreign, source, csv };
  }

  /** A list of column names that exist in `columns`, e.g. a primary key. */
  private columnList(path: Path, columns: ColumnDef[]): string[] {
    const value = this.get(path);
    const list = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list) || list.length === 0 || !list.every((c) => typeof c === 'string')) {
      this.problem(path, 'must be a list of column names, e.g. [order_id, line_no]');
      return [];
    }
    if (new Set(list).size !== list.length) this.problem(path, 'names a column twice');
    for (const c of list)
      if (!columns.some((x) => x.name === c))
        this.problem(path, `unknown column '${c}' (columns: ${columns.map((x) => x.name).join(', ')})`);
    return list as string[];
  }

  private column(path: Path, references: ForeignKey[]): ColumnDef | null {
    const object = this.keysOf(path, [
      ...COLUMN_KEYS,
      ...new Set(Object.values(columnTypes).flatMap((t) => t.keys)),
    ]);
    if (!object) return null;
    const name = this.name([...path, 'name'], 'a column');
    const type = object.type;
    if (typeof type !== 'string' || !(typeNames as readonly string[]).includes(type)) {
      this.problem(
        [...path, 'type'],
        `unknown type ${typeof type === 'string' ? `'${type}'` : (JSON.stringify(type) ?? 'nothing')} (known: ${typeNames.join(', ')})`,
      );
      return null;
    }
    const kind = columnTypes[type as ColumnDef['type']];
    for (const key of Object.keys(object))
      if (!COLUMN_KEYS.includes(key) && !kind.keys.includes(key))
        this.problem([...path, key], `'${key}' does not apply to a ${type} column`);
    if (object.nullable !== undefined && typeof object.nullable !== 'boolean')
      this.problem([...path, 'nullable'], 'must be true or false');
    const numbers = (key: 'max_length' | 'precision' | 'scale') => {
      const v = object[key];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        this.problem([...path, key], `must be a whole number, got ${JSON.stringify(v)}`);
        return undefined;
      }
      return v;
    };
    const column: ColumnDef = {
      name: name ?? '',
      type: kind.name,
      nullable: object.nullable === true,
      csv_name: name ?? '',
    };
    for (const key of ['max_length', 'precision', 'scale'] as const) {
      const v = numbers(key);
      if (v !== undefined) column[key] = v;
    }
    if (object.zone !== undefined) column.zone = object.zone as 'utc';
    if (object.csv_name !== undefined) {
      if (typeof object.csv_name !== 'string' || object.csv_name === '')
        this.problem([...path, 'csv_name'], 'must be the header text of the column');
      else column.csv_name = object.csv_name;
    }
    const typeProblems = kind.check(column);
    for (const [key, message] of typeProblems) this.problem([...path, key], message);
    if (object.pattern !== undefined) {
      const pattern = object.pattern;
      try {
        if (typeof pattern !== 'string') throw new Error('must be a regular expression (text)');
        new RegExp(`^(?:${pattern})$`, 'u');
        column.pattern = pattern;
      } catch (e) {
        this.problem([...path, 'pattern'], `not a valid regular expression: ${(e as Error).message}`);
      }
    }
    // Values are read by the column's own type, from the text as written; bounds and the enum
    // themselves must be values of the type, read before the bounds apply.
    if (!name) return null;
    if (typeProblems.length > 0) return column;
    const plain: ColumnDef = { ...column };
    const value = (key: Path, what: string): Value | undefined => {
      const text = this.text([...path, ...key]);
      if (text === undefined) {
        this.problem([...path, ...key], `${what} must be a single ${type} value`);
        return undefined;
      }
      const v = kind.fromText(plain, text.trim());
      if (isViolation(v)) {
        this.problem([...path, ...key], `${what} is not a valid ${type}: ${v.message}`);
        return undefined;
      }
      return v;
    };
    for (const key of ['min', 'max'] as const) {
      if (object[key] === undefined) continue;
      const v = value([key], key);
      if (v !== undefined) column[key] = v;
    }
    if (column.min !== undefined && column.max !== undefined && kind.compare(column.min, column.max) > 0)
      this.problem([...path, 'max'], `max ${String(column.max)} is below min ${String(column.min)}`);
    if (object.enum !== undefined) {
      const list = this.get([...path, 'enum']);
      if (!Array.isArray(list) || list.length === 0)
        this.problem([...path, 'enum'], 'must be a list of allowed values');
      else {
        const values = list.map((_, i) => value(['enum', i], `enum[${i}]`));
        if (values.every((v) => v !== undefined)) column.enum = values as Value[];
      }
    }
    if (object.default !== undefined) {
      const node = this.doc.getIn([...path, 'default'], true);
      if (isScalar(node) && node.value === null) column.default = null;
      else {
        const v = value(['default'], 'default');
        if (v !== undefined) column.default = v;
      }
      if (column.default === null && !column.nullable)
        this.problem([...path, 'default'], 'default null needs nullable: true');
    }
    if (object.references !== undefined) {
      const ref = object.references;
      const m = typeof ref === 'string' ? /^([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)$/.exec(ref) : null;
      if (!m)
        this.problem(
          [...path, 'references'],
          `must be table.column, e.g. orders.id, got ${JSON.stringify(ref)}`,
        );
      else
        references.push({
          columns: [name],
          references: { table: m[1], columns: [m[2]] },
          at: [...path, 'references'],
        } as ForeignKey);
    }
    return column;
  }

  private foreignKeys(path: Path, value: unknown, columns: ColumnDef[]): ForeignKey[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      this.problem(path, 'must be a list of { columns, references: { table, columns } }');
      return [];
    }
    const keys: ForeignKey[] = [];
    value.forEach((_, i) => {
      const object = this.keysOf([...path, i], ['columns', 'references']);
      if (!object) return;
      const own = this.columnList([...path, i, 'columns'], columns);
      const target = this.keysOf([...path, i, 'references'], ['table', 'columns']);
      if (!target) return;
      const table = this.name([...path, i, 'references', 'table'], 'a table');
      const theirs = this.get([...path, i, 'references', 'columns']);
      if (!Array.isArray(theirs) || !theirs.every((c) => typeof c === 'string')) {
        this.problem([...path, i, 'references', 'columns'], 'must be a list of column names');
        return;
      }
      if (table)
        keys.push({ columns: own, references: { table, columns: theirs }, at: [...path, i] } as ForeignKey);
    });
    return keys;
  }

  private csv(path: Path, value: unknown): CsvOptions {
    const csv: CsvOptions = { header: false, delimiter: ',', quote: '"', null_values: [''] };
    if (value === undefined) return csv;
    const object = this.keysOf(path, CSV_KEYS);
    if (!object) return csv;
    if (object.header !== undefined) {
      if (typeof object.header !== 'boolean') this.problem([...path, 'header'], 'must be true or false');
      else csv.header = object.header;
    }
    for (const key of ['delimiter', 'quote'] as const) {
      const v = object[key];
      if (v === undefined) continue;
      if (typeof v !== 'string' || [...v].length !== 1 || v === '\n' || v === '\r')
        this.problem([...path, key], `must be one character (not a line break), got ${JSON.stringify(v)}`);
      else csv[key] = v;
    }
    if (csv.delimiter === csv.quote)
      this.problem([...path, 'quote'], 'the quote must differ from the delimiter');
    if (object.null_values !== undefined) {
      const v = object.null_values;
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
        this.problem([...path, 'null_values'], 'must be a list of texts, e.g. ["", "NA"]');
      else csv.null_values = v as string[];
    }
    return csv;
  }

  /** Table names, foreign-key targets and their types, and cycles. */
  private checkAcross(tables: TableDef[]): void {
    const byName = new Map<string, TableDef>();
    tables.forEach((t, i) => {
      if (byName.has(t.name)) this.problem(['tables', i, 'name'], `table '${t.name}' appears twice`);
      byName.set(t.name, t);
    });
    for (const table of tables) {
      for (const fk of table.foreign_keys) {
        const at = (fk as ForeignKey & { at: Path }).at;
        delete (fk as Partial<ForeignKey & { at: Path }>).at;
        const parent = byName.get(fk.references.table);
        if (!parent) {
          this.problem(
            at,
            `references unknown table '${fk.references.table}' (tables: ${[...byName.keys()].join(', ')})`,
          );
          continue;
        }
        const missing = fk.references.columns.filter((c) => !parent.columns.some((x) => x.name === c));
        if (missing.length > 0) {
          this.problem(
            at,
            `references unknown column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `${parent.name}.${c}`).join(', ')}`,
          );
          continue;
        }
        if (fk.columns.length !== fk.references.columns.length) {
          this.problem(at, `has ${fk.columns.length} columns but references ${fk.references.columns.length}`);
          continue;
        }
        const target = fk.references.columns.join(',');
        const keys = [parent.primary_key, ...parent.unique].map((k) => k.join(','));
        if (!keys.includes(target)) {
          this.problem(
            at,
            `must reference the primary key or a unique key of ${parent.name}; (${target}) is neither`,
          );
          continue;
        }
        fk.columns.forEach((c, i) => {
          const own = table.columns.find((x) => x.name === c);
          const theirs = parent.columns.find((x) => x.name === fk.references.columns[i])!;
          if (own && !sameKind(own, theirs))
            this.problem(
              at,
              `${table.name}.${c} is ${typeLabel(own)} but ${parent.name}.${theirs.name} is ${typeLabel(theirs)}`,
            );
        });
      }
    }
    const cycle = findCycle(tables);
    if (cycle)
      this.problem(
        ['tables'],
        `foreign keys form a cycle: ${cycle.join(' -> ')} (a load order must exist; a table may reference itself)`,
      );
  }
}

/** A foreign key's column and the column it names hold the same values: same type, same digits. */
function sameKind(a: ColumnDef, b: ColumnDef): boolean {
  return a.type === b.type && a.scale === b.scale && a.precision === b.precision;
}

function pathText(path: Path): string {
  return (
    path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(the file)'
  );
}

/** A cycle of foreign keys between two or more tables, as the names along it; null when there is none. */
function findCycle(tables: TableDef[]): string[] | null {
  const state = new Map<string, 'visiting' | 'done'>();
  const byName = new Map(tables.map((t) => [t.name, t]));
  const stack: string[] = [];
  const visit = (t: TableDef): string[] | null => {
    if (state.get(t.name) === 'done') return null;
    if (state.get(t.name) === 'visiting') return [...stack.slice(stack.indexOf(t.name)), t.name];
    state.set(t.name, 'visiting');
    stack.push(t.name);
    for (const fk of t.foreign_keys) {
      const parent = byName.get(fk.references.table);
      if (parent && parent.name !== t.name) {
        const found = visit(parent);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(t.name, 'done');
    return null;
  };
  for (const t of tables) {
    const found = visit(t);
    if (found) return found;
  }
  return null;
}
