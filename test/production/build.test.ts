import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN } from '../helpers/app.js';
import { freePort, startServerProcess, stopServerProcess, type ServerProcess } from './server-process.js';

/**
 * The production bundle, built the way the Dockerfile builds it, in a temporary folder:
 *
 *   1. the repository's files (`git ls-files`: tracked and new, not ignored, so no dist/, data/, storage/)
 *   2. node_modules       Dockerfile: `npm ci`. Here the repository's own node_modules is copied instead:
 *                         it is what `npm ci` made from the same package-lock.json, and a fresh `npm ci`
 *                         compiles better-sqlite3 from source (a minute or more, and a compiler).
 *   3. `npm run build`    tsc to dist/ plus the dashboard's files to dist/web
 *   4. `npm prune --omit=dev`   drops tsx, typescript, vitest...; works offline (it only deletes)
 *
 * and then `node dist/server.js` runs with no TypeScript tooling installed, and answers a smoke test
 * over HTTP on SQLite and a copy of ./storage.
 */
const run = promisify(execFile);
const repo = process.cwd();
const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

async function sh(cwd: string, file: string, args: string[]) {
  try {
    return await run(file, args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NODE_ENV: '' } });
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`, {
      cause: e,
    });
  }
}

/** Every file under `dir`, recursively. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

/** The package a bare specifier names: `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

describe('the production build', { timeout: 300_000 }, () => {
  let dir = '';
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dataport-prod-'));
    const { stdout } = await sh(repo, 'git', [
      'ls-files',
      '-z',
      '--cached',
      '--others',
      '--exclude-standard',
    ]);
    const files = stdout
      .split('\0')
      .filter((f) => f && existsSync(path.join(repo, f)) && statSync(path.join(repo, f)).isFile());
    for (const file of files) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await cp(path.join(repo, file), path.join(dir, file));
    }
    await cp(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'), {
      recursive: true,
      verbatimSymlinks: true,
    });
    await sh(dir, 'npm', ['run', 'build']);
    await sh(dir, 'npm', ['prune', '--omit=dev', '--no-audit', '--no-fund']);
  }, 300_000);

  afterAll(async () => {
    stopServerProcess(server);
    await server?.exited;
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('compiles to dist/ with the dashboard files beside web.routes.js', () => {
    for (const file of [
      'server.js',
      'cli.js',
      'app.js',
      'web/web.routes.js',
      'web/index.html',
      'web/dashboard.js',
      'web/dashboard.css',
    ])
      expect(existsSync(path.join(dir, 'dist', file)), file).toBe(true);
    expect(walk(path.join(dir, 'dist')).some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toBe(false);
  });

  it('keeps only production dependencies', () => {
    for (const dev of ['tsx', 'typescript', 'vitest', 'esbuild', 'eslint'])
      expect(existsSync(path.join(dir, 'node_modules', dev)), dev).toBe(false);
    for (const dep of Object.keys(pkg.dependencies))
      expect(existsSync(path.join(dir, 'node_modules', dep)), dep).toBe(true);
  });

  it('imports no devDependency at run time (including the lazily loaded MySQL/PostgreSQL modules)', () => {
    const imported = new Set<string>();
    for (const file of walk(path.join(dir, 'dist')).filter(
      (f) => f.endsWith('.js') && !f.includes(`${path.sep}web${path.sep}dashboard`),
    )) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(
        /(?:from\s+|import\s*\(\s*|import\s+|require\(\s*|resolve\(\s*)['"]([^'"./][^'"]*)['"]/g,
      ))
        if (!m[1].startsWith('node:')) imported.add(packageOf(m[1]));
    }
    expect(imported.size).toBeGreaterThan(5);
    for (const name of imported)
      expect(Object.keys(pkg.dependencies), `dist imports ${name}`).toContain(name);
  });

  it('runs with node dist/server.js and passes a smoke test over HTTP', async () => {
    const bucket = path.join(dir, 'bucket');
    await cp(path.join(repo, 'storage'), bucket, { recursive: true });
    const port = await freePort();
    server = await startServerProcess(['dist/server.js'], {
      cwd: dir,
      port,
      env: {
        DATABASE_URL: `sqlite:${path.join(dir, 'data', 'dataport.sqlite')}`,
        STORAGE_URL: `file:${bucket}`,
        API_TOKEN: TOKEN,
        MIGRATE_ON_START: 'false',
        NODE_ENV: 'production',
      },
    });
    const headers = { authorization: `Bearer ${TOKEN}` };
    const post = async (url: string) => {
      const res = await fetch(`${server!.base}${url}`, { method: 'POST', headers });
      expect(res.status, `POST ${url}: ${await res.clone().text()}`).toBe(200);
      return (await res.json()) as any;
    };
    const get = async (url: string) => {
      const res = await fetch(`${server!.base}${url}`);
      expect(res.status, `GET ${url}`).toBe(200);
      return res;
    };

    expect((await post('/run-migration')).applied.length).toBeGreaterThanOrEqual(3);
    expect(await post('/load_historic_data/departments')).toMatchObject({ loaded: 12, rejected: 2 });
    expect(await post('/load_historic_data/jobs')).toMatchObject({ loaded: 183, rejected: 2 });
    expect(await post('/load_historic_data/hired_employees')).toMatchObject({
      rows_read: 2000,
      rejected: 21,
    });
    const backup = await post('/backup_table/hired_employees');
    expect(backup).toMatchObject({ table: 'hired_employees', rows: 1979 });
    expect(await post('/restore_backup/hired_employees')).toMatchObject({ rows_restored: 1979 });
    expect(((await (await get('/hired_by_quarter/2021')).json()) as any).rows.length).toBeGreaterThan(0);
    expect(((await (await get('/departments_above_mean/2021')).json()) as any).rows.length).toBeGreaterThan(
      0,
    );
    expect(await (await get('/')).text()).toContain('<html');
    expect(await (await get('/dashboard.js')).text()).not.toBe('');
    expect((await get('/assets/chart.umd.js')).headers.get('content-type')).toMatch(/javascript/);
    expect(await (await get('/readyz')).json()).toMatchObject({ ready: true });
    const metrics = await (await get('/metrics')).text();
    expect(metrics).toContain('dataport_rows_loaded_total{table="hired_employees"} 1979');
    expect(metrics).toContain('dataport_backup_duration_seconds_count{table="hired_employees"} 1');
    expect(metrics).toContain('process_cpu_user_seconds_total');

    // Logs are Cloud Logging JSON lines.
    const done = server.logs.find(
      (l) => l.message === 'historic load finished' && l.table === 'hired_employees',
    );
    expect(done).toMatchObject({ severity: 'INFO', loaded: 1979, rejected: 21 });

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('runs the dataport command from dist/ (bin/dataport.js) without tsx', async () => {
    const { stdout } = await sh(dir, process.execPath, ['bin/dataport.js', '--version']);
    expect(stdout.trim()).toBe('0.1.0');
  });
});
