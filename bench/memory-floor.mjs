// The memory floor of hookgate's libraries: RSS of a bare Node process, then of fresh processes that
// only import one library (or a set), after a forced GC. No gateway, no config, no request.
//   node bench/memory-floor.mjs            the table printed in docs/benchmarks.md (Status)
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SETS = [
  [],
  ['fastify'], ['pino'], ['prom-client'], ['ajv'], ['@sinclair/typebox'], ['yaml'], ['pg'], ['better-sqlite3'], ['undici-pool'],
  ['fastify', 'pino', 'prom-client', 'yaml', 'better-sqlite3', 'undici-pool'],
  ['fastify', 'pino', 'prom-client', 'ajv', '@sinclair/typebox', 'yaml', 'pg', 'better-sqlite3', 'undici-pool'],
];

if (process.argv[2] === '--child') {
  const { readFileSync } = await import('node:fs');
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  for (const m of process.argv.slice(3)) {
    if (m === 'undici-pool') require('undici/lib/dispatcher/pool.js');
    else await import(m);
  }
  await new Promise((r) => setTimeout(r, 300));
  globalThis.gc();
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(readFileSync('/proc/self/status', 'utf8'))[1]);
  console.log(JSON.stringify({ rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') }));
} else {
  const self = fileURLToPath(import.meta.url);
  const mb = (kb) => (kb / 1024).toFixed(1);
  console.log(`Node ${process.version}; RSS after a forced GC, median of 3 processes each\n`);
  console.log('| imports | RSS | anonymous | file-backed |\n|---|---|---|---|');
  for (const set of SETS) {
    const runs = [0, 1, 2].map(() => JSON.parse(execFileSync(process.execPath, ['--expose-gc', self, '--child', ...set], { encoding: 'utf8' })));
    runs.sort((a, b) => a.rss - b.rss);
    const m = runs[1];
    console.log(`| ${set.length ? set.join(' + ') : '(bare node)'} | ${mb(m.rss)} MB | ${mb(m.anon)} MB | ${mb(m.file)} MB |`);
  }
}
