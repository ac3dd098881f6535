#!/usr/bin/env node
// Part of `npm run build`: tsc compiles src/ to dist/, and this copies the files tsc does not emit, the
// dashboard page's HTML, JS and CSS (src/web/*.html|js|css), to dist/web, where web.routes.js reads them.
// Plain Node (no shell `cp`), so the build runs the same on Linux, macOS, Windows and in the Dockerfile.
// `--clean` removes dist/ first (run before tsc), so that no file from an older build lingers.
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

if (process.argv.includes('--clean')) {
  rmSync(dist, { recursive: true, force: true });
} else {
  const from = path.join(root, 'src', 'web');
  const to = path.join(dist, 'web');
  mkdirSync(to, { recursive: true });
  const files = readdirSync(from).filter((name) => /\.(html|js|css)$/.test(name));
  for (const name of files) copyFileSync(path.join(from, name), path.join(to, name));
  console.log(`copied ${files.length} page files to dist/web: ${files.join(', ')}`);
}
