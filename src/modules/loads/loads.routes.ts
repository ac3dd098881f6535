import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Context } from '../../context.js';
import { errors, TableParams } from '../../http/schemas.js';
import { loadHistoric } from './loads.service.js';

export const LoadResponse = Type.Object({
  table: Type.String(),
  source: Type.String(),
  load_id: Type.String(),
  rows_read: Type.Integer(),
  loaded: Type.Integer(),
  rejected: Type.Integer(),
});

export const loadsRoutes: FastifyPluginAsyncTypebox<{ ctx: Context }> = async (app, { ctx }) => {
  app.post(
    '/load_historic_data/:table',
    {
      schema: {
        summary: 'Load database/{table}/historic/{table}.csv from the bucket (upsert by id, atomic)',
        tags: ['loads'],
        params: TableParams,
        response: { 200: LoadResponse, ...errors(401, 404, 409, 422, 503) },
      },
    },
    async (request) => loadHistoric(ctx, request.params.table),
  );
};
