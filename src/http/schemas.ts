import { Type } from '@sinclair/typebox';

export const ErrorResponse = Type.Object(
  {
    error: Type.Object(
      { code: Type.String(), message: Type.String() },
      {
        additionalProperties: true,
        description: 'Extra fields depend on the code (e.g. rejects, known_tables).',
      },
    ),
  },
  { $id: 'ErrorResponse', additionalProperties: false },
);

export const TableParams = Type.Object({ table: Type.String({ description: 'A table of the catalogue' }) });

/** Response schemas for the error statuses a route may answer. */
export function errors(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, Type.Ref('ErrorResponse')]));
}
