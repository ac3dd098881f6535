import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { closeContext, createLogger, openContext } from './open.js';

/**
 * Opens the context, builds the app and listens; on SIGTERM (what Cloud Run sends) or SIGINT it stops
 * accepting connections, lets the requests in flight finish for up to SHUTDOWN_GRACE_MS, closes the
 * database and exits 0. Past the grace period it exits 0 at once: a load or restore still running is
 * never committed (its COMMIT is the job's last statement, and no code runs after process.exit), so the
 * database rolls its transaction back. A second signal exits at once too. Used by src/server.ts and
 * `dataport serve`.
 */
export async function startServer(config: Config, options: { log?: Logger } = {}): Promise<FastifyInstance> {
  const log = options.log ?? createLogger(config.logLevel);
  const ctx = await openContext(config, { log, sweep: true });
  let app: FastifyInstance;
  try {
    app = await buildApp(config, ctx);
  } catch (e) {
    await closeContext(ctx);
    throw e;
  }
  let closing = false;
  const close = async (signal: string) => {
    if (closing) {
      log.warn({ signal }, 'second signal: exiting now; unfinished jobs roll back');
      process.exit(0);
    }
    closing = true;
    const grace = config.shutdownGraceMs;
    log.info({ signal, grace_ms: grace }, 'shutting down: finishing requests in flight');
    setTimeout(() => {
      log.warn(
        { grace_ms: grace },
        'grace period over: exiting with requests in flight; their jobs roll back',
      );
      process.exit(0);
    }, grace);
    try {
      await app.close();
      await closeContext(ctx);
      log.info('shut down cleanly');
    } catch (err) {
      log.error({ err }, 'error while shutting down');
    }
    process.exit(0);
  };
  // A keep-alive connection of a request that finishes during shutdown would otherwise stay open until
  // its idle timeout (72 s in Fastify) and hold app.close() up: tell the client we close it.
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  process.on('SIGTERM', () => void close('SIGTERM'));
  process.on('SIGINT', () => void close('SIGINT'));
  await app.listen({ host: config.host, port: config.port });
  return app;
}
