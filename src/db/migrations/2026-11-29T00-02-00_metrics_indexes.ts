import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.js';

/**
 * Indexes for the exploration metrics (see ../shared/PERF-NOTES.md): MariaDB never uses a datetime
 * index for a year holding a third of the rows, while (department_id, job_id, datetime) serves both
 * metrics; (job_id) serves the jobs foreign key.
 */
// No IF [NOT] EXISTS on indexes: MySQL 8 has neither; the migrator runs each migration once.
export function metricsIndexes({ catalogue }: MigrationContext) {
  const applies = catalogue.has('hired_employees');
  return {
    async up(db: Kysely<any>) {
      if (!applies) return;
      await db.schema
        .createIndex('ix_hired_department_job_datetime')
        .on('hired_employees')
        .columns(['department_id', 'job_id', 'datetime'])
        .execute();
      await db.schema.createIndex('ix_hired_job').on('hired_employees').column('job_id').execute();
    },
    async down(db: Kysely<any>) {
      if (!applies) return;
      await db.schema.dropIndex('ix_hired_job').on('hired_employees').execute();
      await db.schema.dropIndex('ix_hired_department_job_datetime').on('hired_employees').execute();
    },
  };
}
