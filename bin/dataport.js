#!/usr/bin/env node
// The `dataport` command. In a checkout with dev tooling it runs the TypeScript sources through tsx,
// so a stale dist/ never shadows them; in a production install (no tsx) it runs the compiled dist/.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const source = new URL('../src/cli.ts', import.meta.url);
let tsx = null;
if (existsSync(source)) {
  try {
    createRequire(import.meta.url).resolve('tsx/esm/api');
    tsx = await import('tsx/esm/api');
  } catch {
    tsx = null;
  }
}
if (tsx) {
  tsx.register();
  await import(source.href);
} else {
  await import(new URL('../dist/cli.js', import.meta.url).href);
}
