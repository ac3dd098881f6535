import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Context } from '../../context.js';
import { errors, TableParams } from '../../http/schemas.js';
import { insertBatch } from './inserts.service.js';

const InsertResponse = Type.Object({
  table: Type.String(),
  load_id: Type.String(),
  received: Type.Integer(),
  inserted: Type.Integer(),
  rejected: Type.Integer(),
  rejects: Type.Array(
    Type.Object({
      index: Type.Integer({ description: '0-based position in the batch' }),
      column: Type.Union([Type.String(), Type.Null()]),
      reason: Type.String(),
      message: Type.String(),
    }),
  ),
});

export const insertsRoutes: FastifyPluginAsyncTypebox<{ ctx: Context }> = async (app, { ctx }) => {
  app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.post(
    '/load_data_from_payload/:table',
    {
      schema: {
        summary: 'Insert 1 to 1000 rows (JSON array of objects, one object, or text/csv lines)',
        tags: ['inserts'],
        params: TableParams,
        querystring: Type.Object(
          {
            atomic: Type.Boolean({
              default: false,
              description: 'Refuse the whole batch when one row is invalid',
            }),
          },
          { additionalProperties: false },
        ),
        body: {
          content: {
            'application/json': {
              schema: Type.Union(
                [Type.Array(Type.Unknown()), Type.Object({}, { additionalProperties: true })],
                {
                  description: 'Row objects, or one row object; each is checked against the table rules',
                },
              ),
            },
            'text/csv': {
              schema: Type.String({
                description:
                  "CSV lines in the table's historic format: its delimiter, quote and NULL texts, and its header line first when the catalogue sets csv.header",
              }),
            },
          },
        },
        response: { 200: InsertResponse, ...errors(400, 401, 404, 413, 415, 422, 503) },
      },
    },
    async (request) => {
      const format = request.headers['content-type']?.startsWith('text/csv') ? 'csv' : 'json';
      return insertBatch(ctx, request.params.table, request.body, { atomic: request.query.atomic, format });
    },
  );
};
