// A schema of its own on the tests' PostgreSQL server (test/helpers/services.ts: HOOKGATE_TEST_PG_URL,
// else the local test database), for tests shared by separate processes or reached through a proxy.
// Unreachable: the test fails (or, with HOOKGATE_TEST_ALLOW_SKIP=1, skips), naming the server and
// what to do; there is no stand-in.
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PG_URL, requirePostgres as requireServer } from './services.js';

export { PG_URL };

/** A connected admin client and a fresh schema name (dropped at the test's end), or undefined after failing the test. */
export async function requirePostgres(t: Test, tag: string): Promise<{ admin: pg.Client; schema: string; url: string } | undefined> {
  const url = await requireServer(t);
  if (!url) return undefined;
  const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await admin.connect();
  const schema = `hg_${tag}_${randomBytes(4).toString('hex')}`;
  t.teardown(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await admin.end();
  });
  return { admin, schema, url };
}
