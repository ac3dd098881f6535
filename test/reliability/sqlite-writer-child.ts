/**
 * Run by sqlite-shared-file.test.ts as a separate process: another writer on the service's SQLite file,
 * as any SQLite client would be. It commits one-row transactions into `departments` (ids from argv[3]
 * up, a range the service's batches never use) in a loop, until its stdin ends or argv[4] milliseconds
 * pass, then prints what it committed as JSON.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';

const [file, firstId, limitMs] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const db = new Database(file);
db.pragma('busy_timeout = 5000');
const insert = db.prepare('INSERT INTO departments (id, department) VALUES (?, ?)');
// better-sqlite3's transaction() opens a plain (deferred) BEGIN, as most clients do.
const commit = db.transaction((id: number) => insert.run(id, `other process ${id}`));

let stop = false;
process.stdin.on('data', () => undefined);
process.stdin.on('end', () => (stop = true));

async function main() {
  const deadline = Date.now() + limitMs;
  const committed: number[] = [];
  const errors: Record<string, number> = {};
  process.stdout.write('ready\n');
  for (let id = firstId; !stop && Date.now() < deadline; id++) {
    try {
      commit(id);
      committed.push(id);
    } catch (e) {
      const code = (e as { code?: string }).code ?? String(e);
      errors[code] = (errors[code] ?? 0) + 1;
    }
    // A short pause between commits: the service gets its turns, and commits land between its reads.
    await sleep(Math.random() < 0.5 ? 0 : 1);
  }
  db.close();
  process.stdout.write(`${JSON.stringify({ committed, errors })}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
