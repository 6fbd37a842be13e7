#!/usr/bin/env node
// `npm run test:cockroach`: the ledger and spool suites against a real CockroachDB cluster at
// HOOKGATE_TEST_COCKROACH_URL (postgres://root@host:26257/defaultdb?sslmode=disable, for one). Without
// the variable it says so and exits 0: no CockroachDB binary runs on the development machines, so the
// suites otherwise run the CockroachDB dialect on PostgreSQL only (docs/ledger.md).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const url = process.env.HOOKGATE_TEST_COCKROACH_URL;
if (!url) {
  console.log('test:cockroach skipped: set HOOKGATE_TEST_COCKROACH_URL to a CockroachDB cluster (docs/ledger.md, CockroachDB)');
  process.exit(0);
}
const files = ['dist/test/ledger', 'dist/test/spool'].flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort().map((f) => `${dir}/${f}`));
// The suites read their server from HOOKGATE_TEST_PG_URL; on CockroachDB `auto` detects the engine.
const run = spawnSync('npx', ['tap', ...files], { stdio: 'inherit', env: { ...process.env, HOOKGATE_TEST_PG_URL: url } });
process.exit(run.status ?? 1);
