import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifySchema } from 'fastify';
import type { Config } from './config.js';
import type { Context } from './context.js';
import { installAuth } from './http/auth.js';
import { frameworkErrors, installErrorHandler } from './http/error-handler.js';
import { installJsonParser } from './http/json.js';
import { needsExactJson } from './tables/column-types.js';
import { ErrorResponse } from './http/schemas.js';
import { requestLogging } from './logging.js';
import { installMetrics } from './observability/metrics.js';
import { backupsRoutes } from './modules/backups/backups.routes.js';
import { healthRoutes } from './modules/health/health.routes.js';
import { insertsRoutes } from './modules/inserts/inserts.routes.js';
import { loadsRoutes } from './modules/loads/loads.routes.js';
import { metricsRoutes } from './modules/metrics/metrics.routes.js';
import { migrationsRoutes } from './modules/migrations/migrations.routes.js';
import { hasDemoTables } from './modules/metrics/metrics.service.js';
import { rejectsRoutes } from './modules/rejects/rejects.routes.js';
import { tablesRoutes } from './modules/tables/tables.routes.js';
import { rowSchema } from './modules/tables/tables.service.js';
import { webRoutes } from './web/web.routes.js';

/** Builds the HTTP app on an opened context; tests call it and use `app.inject`. */
export async function buildApp(config: Config, ctx: Context): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    // Request ids from the trace headers Cloud Run sets; trace field for Cloud Logging (src/logging.ts).
    ...requestLogging(config.googleCloudProject),
    bodyLimit: config.bodyLimit,
    // Long table names must reach the catalogue, which answers unknown_table, not a bare 404.
    routerOptions: { maxParamLength: 1000 },
    frameworkErrors,
    // Loads of millions of rows take minutes, so nothing bounds the time to answer; REQUEST_TIMEOUT_MS
    // bounds the time to receive a request (408 for a client that stalls mid-upload, so a slow-loris
    // client cannot hold sockets and body buffers). No idle timeout on the socket either: a load
    // sends no bytes until it has finished. Node checks the timeout every `connectionsCheckingInterval`.
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: 0,
    http: config.requestTimeoutMs
      ? {
          headersTimeout: Math.min(60_000, config.requestTimeoutMs),
          connectionsCheckingInterval: Math.min(30_000, Math.max(250, config.requestTimeoutMs / 4)),
        }
      : null,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addSchema(ErrorResponse);
  installJsonParser(app, (request) => {
    const table = (request.params as { table?: string } | undefined)?.table;
    return (
      request.routeOptions.url === '/load_data_from_payload/:table' &&
      table !== undefined &&
      ctx.catalogue.has(table) &&
      needsExactJson(ctx.catalogue.get(table))
    );
  });
  await app.register(swagger, {
    // Each table's row schema, from the catalogue, in the batch route's documentation only: the rows
    // are checked by our rules (with rejects), never by the schema validator.
    transform: ({ schema, url }) => ({ schema: documented(schema, url, ctx) as FastifySchema, url }),
    openapi: {
      info: {
        title: 'dataport',
        version: '0.1.0',
        description: 'Moves tables into SQL and keeps them safe.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  installErrorHandler(app, ctx.engine);
  installAuth(app, config.apiToken);
  installMetrics(app, ctx.metrics);

  await app.register(healthRoutes, { ctx });
  await app.register(migrationsRoutes, { ctx });
  await app.register(loadsRoutes, { ctx });
  await app.register(insertsRoutes, { ctx });
  await app.register(rejectsRoutes, { ctx });
  await app.register(backupsRoutes, { ctx });
  await app.register(tablesRoutes, { ctx });
  const dashboard = hasDemoTables(ctx.catalogue);
  if (dashboard) await app.register(metricsRoutes, { ctx });
  await app.register(webRoutes, { dashboard, tables: ctx.catalogue.names });
  return app;
}

/** A route's schema as OpenAPI shows it: the table parameter lists the catalogue's tables. */
function documented(schema: Record<string, any> | undefined, url: string, ctx: Context) {
  if (!schema?.params?.properties?.table) return schema;
  const names = ctx.catalogue.names;
  const params = {
    ...schema.params,
    properties: { ...schema.params.properties, table: { ...schema.params.properties.table, enum: names } },
  };
  if (url !== '/load_data_from_payload/:table') return { ...schema, params };
  const rows = ctx.catalogue.tables.map(rowSchema);
  const json = {
    description: 'Row objects of the table in the path, or one row object; the row schema of each table:',
    oneOf: [...rows.map((row) => ({ type: 'array', items: row, minItems: 1, maxItems: 1000 })), ...rows],
  };
  return {
    ...schema,
    params,
    body: {
      ...schema.body,
      content: { ...schema.body.content, 'application/json': { schema: json } },
    },
  };
}
