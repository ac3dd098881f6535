import { ConfigError, loadConfig } from './config.js';
import { startServer } from './serve.js';

/** Process entry: config, then the server (src/serve.ts); no logic here. */
try {
  await startServer(loadConfig());
} catch (e) {
  const bad = e instanceof ConfigError;
  process.stderr.write(
    `dataport: ${bad ? e.message : `failed to start: ${e instanceof Error ? e.message : String(e)}`}\n`,
  );
  process.exit(bad ? 2 : 1);
}
