import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Context } from '../../context.js';
import { migrateToLatest } from '../../db/migrator.js';
import { errors } from '../../http/schemas.js';

export const MigrationResponse = Type.Object({
  applied: Type.Array(Type.String()),
  current: Type.Union([Type.String(), Type.Null()]),
});

export const migrationsRoutes: FastifyPluginAsyncTypebox<{ ctx: Context }> = async (app, { ctx }) => {
  app.post(
    '/run-migration',
    {
      schema: {
        summary: 'Apply pending schema migrations',
        tags: ['migrations'],
        response: { 200: MigrationResponse, ...errors(401, 500, 503) },
      },
    },
    async () => migrateToLatest(ctx.migrator),
  );
};
