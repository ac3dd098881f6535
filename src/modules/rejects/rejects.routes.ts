import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Context } from '../../context.js';
import { errors, TableParams } from '../../http/schemas.js';
import { listTableRejects } from './rejects.service.js';

const RejectItem = Type.Object({
  load_id: Type.String(),
  source: Type.String(),
  line: Type.Optional(Type.Integer({ description: '1-based line of the CSV file' })),
  index: Type.Optional(Type.Integer({ description: '0-based position in the batch or backup' })),
  column: Type.Union([Type.String(), Type.Null()]),
  reason: Type.String(),
  message: Type.String(),
  raw: Type.String({ description: 'The original line or JSON row (cut after 10,000 characters)' }),
  created_at: Type.String(),
});

export const RejectsResponse = Type.Object({
  table: Type.String(),
  total: Type.Integer(),
  rejects: Type.Array(RejectItem),
});

export const RejectsQuery = Type.Object(
  {
    load_id: Type.Optional(Type.String({ maxLength: 36 })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    offset: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
);

export const rejectsRoutes: FastifyPluginAsyncTypebox<{ ctx: Context }> = async (app, { ctx }) => {
  app.get(
    '/rejects/:table',
    {
      schema: {
        summary: 'The logged rejects of a table, newest first',
        tags: ['rejects'],
        params: TableParams,
        querystring: RejectsQuery,
        response: { 200: RejectsResponse, ...errors(400, 404, 503) },
      },
    },
    async (request) =>
      listTableRejects(ctx, request.params.table, {
        loadId: request.query.load_id,
        limit: request.query.limit,
        offset: request.query.offset,
      }),
  );
};
