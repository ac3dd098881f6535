import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Context } from '../../context.js';
import { errors, TableParams } from '../../http/schemas.js';
import { typeNames } from '../../tables/types.js';
import { describeTable, listTables } from './tables.service.js';

const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

const Column = Type.Object({
  name: Type.String(),
  type: Type.Union(typeNames.map((t) => Type.Literal(t))),
  nullable: Type.Boolean(),
  max_length: Type.Optional(Type.Integer()),
  precision: Type.Optional(Type.Integer()),
  scale: Type.Optional(Type.Integer()),
  min: Type.Optional(Scalar),
  max: Type.Optional(Scalar),
  pattern: Type.Optional(Type.String()),
  enum: Type.Optional(Type.Array(Scalar)),
  default: Type.Optional(Scalar),
  zone: Type.Optional(Type.Literal('utc')),
  csv_name: Type.String(),
});

export const TableResponse = Type.Object({
  name: Type.String(),
  columns: Type.Array(Column),
  primary_key: Type.Array(Type.String(), { description: 'Empty for a table without a key' }),
  unique: Type.Array(Type.Array(Type.String())),
  foreign_keys: Type.Array(
    Type.Object({
      columns: Type.Array(Type.String()),
      references: Type.Object({ table: Type.String(), columns: Type.Array(Type.String()) }),
    }),
  ),
  source: Type.String({ description: 'The bucket key of the historic CSV' }),
  csv: Type.Object({
    header: Type.Boolean(),
    delimiter: Type.String(),
    quote: Type.String(),
    null_values: Type.Array(Type.String()),
  }),
  row_count: Type.Integer(),
});

export const TablesResponse = Type.Object({
  catalogue: Type.String({ description: 'The catalogue file the service read' }),
  tables: Type.Array(TableResponse, { description: 'Parents before the tables that reference them' }),
});

export const tablesRoutes: FastifyPluginAsyncTypebox<{ ctx: Context }> = async (app, { ctx }) => {
  app.get(
    '/tables',
    {
      schema: {
        summary: 'The table catalogue as the service reads it, with each row count',
        tags: ['tables'],
        response: { 200: TablesResponse, ...errors(503) },
      },
    },
    async () => listTables(ctx),
  );
  app.get(
    '/tables/:table',
    {
      schema: {
        summary: 'One table of the catalogue: columns, types, keys, CSV options and its row count',
        tags: ['tables'],
        params: TableParams,
        response: { 200: TableResponse, ...errors(404, 503) },
      },
    },
    async (request) => describeTable(ctx, request.params.table),
  );
};
