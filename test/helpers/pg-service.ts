// The PostgreSQL server of the tests that need a real one (shared by separate processes, or reached
// through a proxy): HOOKGATE_TEST_PG_URL, else the local test database. Unreachable: the test fails,
// naming the server and what to do; there is no stand-in.
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_URL = process.env.HOOKGATE_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** A connected admin client and a fresh schema name (dropped at the test's end), or undefined after failing the test. */
export async function requirePostgres(t: Test, tag: string): Promise<{ admin: pg.Client; schema: string; url: string } | undefined> {
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    await admin.end().catch(() => {});
    t.fail(`PostgreSQL is not reachable at ${PG_URL} (${(err as Error).message}): start it, or point HOOKGATE_TEST_PG_URL at one`);
    return undefined;
  }
  const schema = `hg_${tag}_${randomBytes(4).toString('hex')}`;
  t.teardown(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await admin.end();
  });
  return { admin, schema, url: PG_URL };
}
