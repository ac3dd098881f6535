import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { closeContext, createLogger, openContext } from './open.js';

/** Process entry: config, context, app, listen; close cleanly on SIGTERM/SIGINT. */
async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`dataport: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger(config.logLevel);
  const ctx = await openContext(config, { log });
  const app = await buildApp(config, ctx);
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
}

main().catch((e) => {
  process.stderr.write(`dataport: failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
