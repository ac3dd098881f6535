// Run before the tests: the dashboard test needs Debian's Chromium and the Avro interoperability test
// needs Apache Avro's Python reader. On a fresh machine where we are root, install them (Debian
// packages only; no test tool ever downloads a browser); otherwise say exactly what is missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const missing = [];
if (!existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium')) missing.push('chromium');
const avro = spawnSync('/usr/bin/python3', ['-c', 'import avro, snappy'], { stdio: 'ignore' });
if (avro.status !== 0) missing.push('python3-avro', 'python3-snappy');

if (missing.length > 0) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !existsSync('/usr/bin/apt-get')) {
    console.error(
      `The tests need these Debian packages: ${missing.join(' ')}\n  sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`,
    );
    process.exit(1);
  }
  console.error(`Installing test dependencies: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env,
  });
}
