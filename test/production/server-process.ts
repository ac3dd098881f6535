import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  child: ChildProcess;
  base: string;
  /** Parsed JSON log lines so far (stdout). */
  logs: Record<string, unknown>[];
  /** Everything on stderr, for failure messages. */
  stderr(): string;
  /** Resolves with the first log line that matches. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
}

/**
 * Starts `node <args>` in `cwd` with exactly `env` (plus PATH and HOME) and waits until it listens.
 * Logs are the server's JSON lines on stdout.
 */
export async function startServerProcess(
  args: string[],
  options: { cwd: string; env: Record<string, string>; port: number; timeoutMs?: number },
): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...options.env,
      PORT: String(options.port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let err = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines.filter(Boolean)) {
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ raw: line });
      }
    }
    for (const wake of waiters) wake();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const wake of waiters) wake();
      resolve(code ?? signal ?? -1);
    }),
  );
  const waitForLog: ServerProcess['waitForLog'] = (match, timeoutMs = 30_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `no matching log line within ${timeoutMs} ms; stderr: ${err}; logs: ${JSON.stringify(logs)}`,
          ),
        );
      }, timeoutMs);
      function check() {
        const found = logs.find(match);
        if (found || child.exitCode !== null) {
          clearTimeout(timer);
          waiters.delete(check);
          if (found) resolve(found);
          else
            reject(
              new Error(
                `the server exited (${child.exitCode}); stderr: ${err}; logs: ${JSON.stringify(logs)}`,
              ),
            );
        }
      }
      waiters.add(check);
      check();
    });
  const server: ServerProcess = {
    child,
    base: `http://127.0.0.1:${options.port}`,
    logs,
    stderr: () => err,
    waitForLog,
    exited,
  };
  await waitForLog(
    (l) => String(l.message ?? '').startsWith('Server listening'),
    options.timeoutMs ?? 60_000,
  );
  return server;
}

/** Kills a server a test left running (a failed assertion must not leak a process). */
export function stopServerProcess(server: ServerProcess | undefined) {
  if (server && server.child.exitCode === null && server.child.signalCode === null)
    server.child.kill('SIGKILL');
}
