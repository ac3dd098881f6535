import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';

const here = path.dirname(fileURLToPath(import.meta.url));
const html = 'text/html; charset=utf-8';
const js = 'text/javascript; charset=utf-8';
// The page's files live beside this module in the sources; the build copies them to dist/web.
const dashboard: Record<string, { file: string; type: string }> = {
  '/': { file: path.join(here, 'index.html'), type: html },
  '/dashboard.js': { file: path.join(here, 'dashboard.js'), type: js },
  // Served from the npm package, so the page works offline and no CDN sees our users.
  '/assets/chart.umd.js': {
    file: path.join(path.dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js'),
    type: js,
  },
};
const css = { '/dashboard.css': { file: path.join(here, 'dashboard.css'), type: 'text/css; charset=utf-8' } };

/**
 * The page for people at `/`: the hiring dashboard, fed by the JSON metrics endpoints, when the
 * catalogue has the demo tables; otherwise a page that lists the catalogue's tables and links to /docs.
 */
export const webRoutes: FastifyPluginAsync<{ dashboard: boolean; tables: string[] }> = async (
  app,
  options,
) => {
  const assets = options.dashboard ? { ...dashboard, ...css } : css;
  const serve = (url: string, type: string, body: Buffer | string) =>
    app.get(url, { schema: { hide: true } }, async (_request, reply) =>
      reply.type(type).header('cache-control', 'no-cache').send(body),
    );
  for (const [url, asset] of Object.entries(assets)) serve(url, asset.type, await readFile(asset.file));
  if (!options.dashboard) {
    const page = await readFile(path.join(here, 'tables.html'), 'utf8');
    // Table names match ^[a-z][a-z0-9_]*$ (the catalogue checks): nothing to escape.
    const items = options.tables.map((t) => `<li><a href="tables/${t}">${t}</a></li>`).join('');
    serve('/', html, page.replace('<!--tables-->', items));
  }
};
