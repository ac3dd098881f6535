import { describe, expect, it } from 'vitest';
import { splitCreate } from '../../src/db/mysql-swap.js';

const ansi = `CREATE TABLE "hired_employees" (
  "id" int(11) NOT NULL,
  "name" varchar(200) NOT NULL,
  "department_id" int(11) NOT NULL,
  PRIMARY KEY ("id"),
  UNIQUE KEY "ux_name" ("name"),
  KEY "ix_department" ("department_id"),
  CONSTRAINT "fk_hired_employees_department_id" FOREIGN KEY ("department_id") REFERENCES "departments" ("id") ON DELETE CASCADE,
  CONSTRAINT "positive" CHECK ("id" > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci`;

describe('the table swap reads SHOW CREATE TABLE', () => {
  it('keeps columns, primary key and checks for the staging table; defers indexes and foreign keys', () => {
    const parts = splitCreate(ansi, 'hired_employees')!;
    expect(parts.kept).toEqual([
      '  "id" int(11) NOT NULL',
      '  "name" varchar(200) NOT NULL',
      '  "department_id" int(11) NOT NULL',
      '  PRIMARY KEY ("id")',
      '  CONSTRAINT "positive" CHECK ("id" > 0)',
    ]);
    expect(parts.indexes).toEqual(['UNIQUE KEY "ux_name" ("name")', 'KEY "ix_department" ("department_id")']);
    expect(parts.foreignKeys).toEqual([
      {
        name: 'fk_hired_employees_department_id',
        body: 'FOREIGN KEY ("department_id") REFERENCES "departments" ("id") ON DELETE CASCADE',
      },
    ]);
    expect(parts.tail).toBe(') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci');
  });

  it('reads backtick quoting too', () => {
    const parts = splitCreate(ansi.replace(/"/g, '`'), 'hired_employees')!;
    expect(parts.foreignKeys[0].name).toBe('fk_hired_employees_department_id');
    expect(parts.kept).toHaveLength(5);
  });

  it('answers null (the caller deletes and inserts instead) for anything it does not know', () => {
    expect(splitCreate(ansi, 'other_table')).toBeNull();
    expect(
      splitCreate(ansi.replace('  PRIMARY KEY', '  PERIOD FOR p (a, b),\n  PRIMARY KEY'), 'hired_employees'),
    ).toBeNull();
    expect(splitCreate('CREATE VIEW "hired_employees" AS SELECT 1', 'hired_employees')).toBeNull();
  });
});
