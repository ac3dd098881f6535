#!/usr/bin/env node
// CI: `npm audit --omit=dev` must report no high or critical advisory in the production dependencies,
// except those listed with a reason in .ci/audit-allowlist.json (until their `until` date).
// If the audit endpoint cannot be reached, say so clearly and pass: CI must not fail for an outage of
// the registry's audit service. Usage: node .ci/audit.mjs [--report saved-npm-audit.json]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const allow =
  JSON.parse(readFileSync(new URL('./audit-allowlist.json', import.meta.url), 'utf8')).allow ?? [];
const saved = process.argv.indexOf('--report');
let text;
if (saved > 0) text = readFileSync(process.argv[saved + 1], 'utf8');
else {
  try {
    text = execFileSync('npm', ['audit', '--omit=dev', '--json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    text = e.stdout ?? ''; // npm audit exits 1 when it finds anything, and when it fails
  }
}
let report;
try {
  report = JSON.parse(text);
} catch {
  report = null;
}
if (!report || !report.vulnerabilities) {
  const why = report?.message ?? report?.error?.summary ?? (text.trim().slice(0, 300) || 'no output');
  console.log(
    `npm audit: SKIPPED, the audit endpoint could not be reached (${why}). No advisory was checked.`,
  );
  process.exit(0);
}
const today = new Date().toISOString().slice(0, 10);
const found = [];
for (const [name, v] of Object.entries(report.vulnerabilities)) {
  for (const via of v.via) {
    if (typeof via !== 'object' || !['high', 'critical'].includes(via.severity)) continue;
    const id = /GHSA-[\w-]+/.exec(via.url ?? '')?.[0] ?? String(via.source);
    const entry = allow.find((a) => a.id === id && (!a.until || a.until >= today));
    found.push({ name, id, severity: via.severity, title: via.title, allowed: entry?.reason });
  }
}
for (const f of found)
  console.log(
    `${f.allowed ? 'allowed' : 'FAIL   '} ${f.severity} ${f.name} ${f.id}: ${f.title}${f.allowed ? ` (${f.allowed})` : ''}`,
  );
const failing = found.filter((f) => !f.allowed);
const m = report.metadata?.vulnerabilities ?? {};
console.log(
  `npm audit --omit=dev: ${m.critical ?? 0} critical, ${m.high ?? 0} high, ${m.moderate ?? 0} moderate; ` +
    `${failing.length} high/critical not on the allow-list`,
);
process.exit(failing.length ? 1 : 0);
