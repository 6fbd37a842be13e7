// `hookgate migrate` creates the ledger schema (PostgreSQL, in the configured schema; embedded file)
// and is safe to run again.
import t from 'tap';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runCli } from '../helpers/cli.js';
import { schemaName } from '../helpers/ledger-backends.js';
import { requirePostgres } from '../helpers/services.js';

const dir = mkdtempSync(join(tmpdir(), 'hookgate-migrate-'));
const BASE = 'upstream: { url: "http://127.0.0.1:8000" }\nroutes:\n  - { path: /a, provider: github, secrets: [env:G] }\n';

t.test('embedded: creates the file and its folder', async (t) => {
  const db = join(dir, 'nested', 'ledger.db');
  const f = join(dir, 'embedded.yaml');
  writeFileSync(f, `${BASE}ledger: { url: "embedded:${db}" }\n`);
  const r = await runCli(['migrate', '--config', f], { G: 'x' });
  t.equal(r.code, 0, r.err);
  t.match(r.out, /ledger migrated: .*"backend":"embedded"/);
  t.ok(existsSync(db));
  const again = await runCli(['migrate', '--config', f], { G: 'x' });
  t.equal(again.code, 0);
});

t.test('postgres: the tables land in ledger.schema, the URL comes from the environment', async (t) => {
  const url = await requirePostgres(t);
  if (!url) return;
  const schema = schemaName('cli_migrate');
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  t.teardown(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });
  const f = join(dir, 'pg.yaml');
  writeFileSync(f, `${BASE}ledger: { url: "env:LEDGER_URL", schema: ${schema} }\n`);
  const r = await runCli(['migrate', '--config', f], { G: 'x', LEDGER_URL: url });
  t.equal(r.code, 0, r.err);
  t.match(r.out, /"backend":"postgres"/);
  const { rows } = await admin.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [schema]);
  t.ok(rows.some((row) => row.table_name === 'hookgate_ledger'), 'hookgate_ledger is in the schema');
  t.equal((await runCli(['migrate', '--config', f], { G: 'x', LEDGER_URL: url })).code, 0, 'a second run is a no-op');
});

t.test('an unreachable database is a clear failure, exit 1, no password printed', async (t) => {
  const f = join(dir, 'down.yaml');
  writeFileSync(f, `${BASE}ledger: { url: "postgres://u:topsecret@127.0.0.1:1/x" }\n`);
  const r = await runCli(['migrate', '--config', f], { G: 'x' });
  t.equal(r.code, 1);
  t.match(r.err, /hookgate migrate: /);
  t.notMatch(r.err, /topsecret/);
});
