#!/usr/bin/env node
// Runs the whole suite with tap over the compiled tests, then prints the plain summary line
// `N passed, N failed` (tap's own count of test points) so that a run of zero tests shows.
// Extra arguments narrow the run: `npm test -- dist/test/ledger`.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

// Folders are narrowed to their *.test.js files (helpers beside them are not test files); no argument
// means every test under dist/test. (Named explicitly: tap's defaults exclude dist/.)
function* testFiles(path) {
  if (!statSync(path).isDirectory()) return yield path;
  for (const name of readdirSync(path).sort()) {
    const p = join(path, name);
    if (statSync(p).isDirectory()) yield* testFiles(p);
    else if (name.endsWith('.test.js')) yield p;
  }
}
// tap runs its tests with the plugins it was last built with; a fresh `npm ci` has tap's default
// set (its TypeScript loader, which cannot run here: tests are compiled by tsc), and tap rebuilds only
// after that first run. Build it with the configured plugins first.
const build = spawnSync('npx', ['tap', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
if (build.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const args = process.argv.slice(2);
const targets = (args.length ? args : ['dist/test']).flatMap((a) => [...testFiles(a)]);
const child = spawn('npx', ['tap', ...targets], { stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4096);
});
child.on('close', (code) => {
  // tap ends with `# { total: 135, pass: 133, fail: 1, skip: 1 }` (absent keys are zero).
  const m = /# \{ total: (\d+)([^}]*)\}/.exec(tail);
  const field = (name) => Number(new RegExp(`${name}: (\\d+)`).exec(m?.[2] ?? '')?.[1] ?? 0);
  const total = m ? Number(m[1]) : 0;
  const passed = field('pass');
  const skipped = field('skip') + field('todo');
  let failed = m ? total - passed - skipped : 0;
  if (code !== 0 && failed === 0) failed = 1;
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
