import { ConfigError, loadConfig } from './config.js';
import { CatalogueError } from './tables/catalogue-file.js';
import { startServer } from './serve.js';

/** Process entry: config, then the server (src/serve.ts); no logic here. */
try {
  await startServer(loadConfig());
} catch (e) {
  // A bad environment or catalogue file is the operator's to fix: exit 2, as for a usage error.
  const bad = e instanceof ConfigError || e instanceof CatalogueError;
  process.stderr.write(
    `dataport: ${bad ? e.message : `failed to start: ${e instanceof Error ? e.message : String(e)}`}\n`,
  );
  process.exit(bad ? 2 : 1);
}
