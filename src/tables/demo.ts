import type { CatalogueFile } from './types.js';

/** The demo tables of the original service. Only this file and the metrics know them by name. */
export const demoCatalogue: CatalogueFile = {
  tables: [
    {
      name: 'departments',
      columns: [
        { name: 'id', type: 'integer' },
        { name: 'department', type: 'string', maxLength: 100 },
      ],
    },
    {
      name: 'jobs',
      columns: [
        { name: 'id', type: 'integer' },
        { name: 'job', type: 'string', maxLength: 100 },
      ],
    },
    {
      name: 'hired_employees',
      columns: [
        { name: 'id', type: 'integer' },
        { name: 'name', type: 'string', maxLength: 200 },
        { name: 'datetime', type: 'datetime' },
        { name: 'department_id', type: 'integer', references: 'departments' },
        { name: 'job_id', type: 'integer', references: 'jobs' },
      ],
    },
  ],
};
