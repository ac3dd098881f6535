import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';

const here = path.dirname(fileURLToPath(import.meta.url));
// The page's files live beside this module in the sources; the build copies them to dist/web.
const assets: Record<string, { file: string; type: string }> = {
  '/': { file: path.join(here, 'index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: path.join(here, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: path.join(here, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  // Served from the npm package, so the page works offline and no CDN sees our users.
  '/assets/chart.umd.js': {
    file: path.join(path.dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js'),
    type: 'text/javascript; charset=utf-8',
  },
};

/** The dashboard page for people, fed by the JSON metrics endpoints. */
export const webRoutes: FastifyPluginAsync = async (app) => {
  for (const [url, asset] of Object.entries(assets)) {
    const body = await readFile(asset.file);
    app.get(url, { schema: { hide: true } }, async (_request, reply) =>
      reply.type(asset.type).header('cache-control', 'no-cache').send(body),
    );
  }
};
