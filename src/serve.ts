import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { closeContext, createLogger, openContext } from './open.js';

/**
 * Opens the context, builds the app and listens; on SIGTERM/SIGINT it finishes the requests in
 * flight, closes the database and exits. Used by src/server.ts and `dataport serve`.
 */
export async function startServer(config: Config, options: { log?: Logger } = {}): Promise<FastifyInstance> {
  const log = options.log ?? createLogger(config.logLevel);
  const ctx = await openContext(config, { log });
  let app: FastifyInstance;
  try {
    app = await buildApp(config, ctx);
  } catch (e) {
    await closeContext(ctx);
    throw e;
  }
  let closing = false;
  const close = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down: finishing requests in flight');
    await app.close();
    await closeContext(ctx);
    process.exit(0);
  };
  process.on('SIGTERM', () => void close('SIGTERM'));
  process.on('SIGINT', () => void close('SIGINT'));
  await app.listen({ host: config.host, port: config.port });
  return app;
}
