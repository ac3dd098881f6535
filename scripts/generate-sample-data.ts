import { parseArgs } from 'node:util';
import { defaultEmployees, generateSampleData } from './sample-data.js';

/**
 * `npx tsx scripts/generate-sample-data.ts [--out storage] [--employees N] [--bad-rate 0.01] [--clean] [--seed N]`
 * Prints what it wrote (good and bad rows per reason) as JSON.
 */
const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'storage' },
    employees: { type: 'string', default: String(defaultEmployees) },
    'bad-rate': { type: 'string' },
    clean: { type: 'boolean', default: false },
    seed: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (values.help) {
  console.log(
    'usage: generate-sample-data [--out storage] [--employees N] [--bad-rate 0.01] [--clean] [--seed N]',
  );
  process.exit(0);
}

function number(name: string, raw: string | undefined, integer: boolean): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    console.error(
      `--${name} must be a ${integer ? 'non-negative integer' : 'non-negative number'}, got '${raw}'`,
    );
    process.exit(2);
  }
  return n;
}

const started = Date.now();
const report = await generateSampleData({
  out: values.out,
  employees: number('employees', values.employees, true),
  badRate: number('bad-rate', values['bad-rate'], false),
  clean: values.clean,
  seed: number('seed', values.seed, true),
});
console.log(JSON.stringify({ ...report, seconds: (Date.now() - started) / 1000 }, null, 2));
