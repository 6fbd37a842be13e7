// The servers some tests need: PostgreSQL (HOOKGATE_TEST_PG_URL) and Redis (HOOKGATE_TEST_REDIS_URL),
// with defaults so that `npm test` on a machine running both needs no variable.
//
// A test that needs one it cannot reach FAILS, naming the server and how to start it: a green run
// means the ledger and limiter tests ran. The one way out is explicit, for a machine without them:
// HOOKGATE_TEST_ALLOW_SKIP=1 turns those failures into tap skips, which the summary line counts as
// skipped (`N passed, N failed, N skipped`). `.ci/run` never sets it.
import { connect } from 'node:net';
import pg from 'pg';

export const PG_URL = process.env.HOOKGATE_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.HOOKGATE_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
export const ALLOW_SKIP = process.env.HOOKGATE_TEST_ALLOW_SKIP === '1';

/** The part of a tap Test the requirement needs (a file's top-level `t` or a subtest). */
export interface Skippable {
  plan(n: number, reason?: string): void;
  fail(message: string): void;
}

const hidePassword = (url: string) => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:…@');

const HOW = {
  postgres:
    `start PostgreSQL (\`.ci/run\` starts the local cluster and creates the database \`test\`), or point HOOKGATE_TEST_PG_URL at one`,
  redis: 'start Redis (`.ci/run` starts one: `redis-server --port 6379 --save "" --appendonly no`), or point HOOKGATE_TEST_REDIS_URL at one',
  'redis-server': 'install redis-server (the tests that stop and restart Redis start private ones on their own ports)',
};

let pgProbe: Promise<string | null> | undefined;
/** null when PostgreSQL at PG_URL answers a query, else why not. */
export function postgresProblem(): Promise<string | null> {
  pgProbe ??= (async () => {
    const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return null;
    } catch (err) {
      return (err as Error).message || String(err);
    } finally {
      await c.end().catch(() => {});
    }
  })();
  return pgProbe;
}

let redisProbe: Promise<string | null> | undefined;
/** null when something accepts connections at REDIS_URL, else why not. */
export function redisProblem(): Promise<string | null> {
  redisProbe ??= new Promise((resolve) => {
    const { hostname, port } = new URL(REDIS_URL);
    const s = connect(Number(port || 6379), hostname || '127.0.0.1');
    s.setTimeout(2000, () => (s.destroy(), resolve('no answer within 2 s')));
    s.once('connect', () => (s.end(), resolve(null)));
    s.once('error', (err) => resolve(err.message));
  });
  return redisProbe;
}

/**
 * What to do when a needed server is missing: fail the test with the reason and the remedy, or, with
 * HOOKGATE_TEST_ALLOW_SKIP=1, mark it skipped (plan 0 with the reason). Returns false either way:
 * the caller returns at once.
 */
export function missing(t: Skippable, service: keyof typeof HOW, where: string, problem: string): false {
  const what = `${service === 'postgres' ? 'PostgreSQL' : service === 'redis' ? 'Redis' : 'redis-server'} ${where ? `at ${where} ` : ''}is needed and unavailable (${problem})`;
  if (ALLOW_SKIP) t.plan(0, `${what}; skipped because HOOKGATE_TEST_ALLOW_SKIP=1`);
  else t.fail(`${what}: ${HOW[service]}; or set HOOKGATE_TEST_ALLOW_SKIP=1 to skip the tests that need it`);
  return false;
}

/** The PostgreSQL URL when the server answers; otherwise null, the test failed (or skipped: see above). */
export async function requirePostgres(t: Skippable): Promise<string | null> {
  const problem = await postgresProblem();
  if (problem === null) return PG_URL;
  missing(t, 'postgres', `${hidePassword(PG_URL)} (HOOKGATE_TEST_PG_URL)`, problem);
  return null;
}

/** The Redis URL when the server accepts connections; otherwise null, the test failed (or skipped). */
export async function requireRedisUrl(t: Skippable): Promise<string | null> {
  const problem = await redisProblem();
  if (problem === null) return REDIS_URL;
  missing(t, 'redis', `${REDIS_URL} (HOOKGATE_TEST_REDIS_URL)`, problem);
  return null;
}
