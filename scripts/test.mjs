#!/usr/bin/env node
// Runs the whole suite with tap over the compiled tests, then prints the plain summary line
// `N passed, N failed` (counting top-level subtests of every file) so a run of zero tests shows.
// Extra arguments narrow the run: `npm test -- dist/test/ledger`.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from 'tap-parser';

const resultsDir = '.tap/test-results';
rmSync(resultsDir, { recursive: true, force: true });

const args = process.argv.slice(2);
const targets = args.length ? args : ['dist/test'];
const run = spawnSync('npx', ['tap', ...targets], { stdio: 'inherit' });

function* files(dir) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (p.endsWith('.tap')) yield p;
  }
}

let passed = 0, failed = 0, skipped = 0;
for (const file of files(resultsDir)) {
  const result = Parser.parse(readFileSync(file, 'utf8'));
  // A file that crashed before any assertion still counts as one failure.
  let filePass = 0, fileFail = 0;
  for (const line of result) {
    if (line[0] !== 'assert') continue;
    const r = line[1];
    if (r.skip || r.todo) skipped++;
    else if (r.ok) filePass++;
    else fileFail++;
  }
  if (filePass + fileFail === 0 && run.status !== 0) fileFail = 1;
  passed += filePass; failed += fileFail;
}
if (run.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(run.status === 0 && failed === 0 ? 0 : 1);
