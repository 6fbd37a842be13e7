// The behavioural suite every ledger backend must pass (CONTRACT.md, Idempotency). Run by
// test/ledger/postgres.test.ts (the PostgreSQL server, SERIALIZABLE), test/ledger/pglite.test.ts
// (PGlite, in process: no race tests, it has one connection), by
// test/ledger/cockroach-runtime.test.ts (PostgreSQL with the CockroachDB runtime paths) and by
// test/ledger/embedded.test.ts (SQLite in memory and on disk) and test/ledger/memory.test.ts (the Map
// engine of `embedded` in memory).
import type { Test } from 'tap';
import { GatewayError } from '../../src/errors.js';
import type { ClaimResult } from '../../src/ledger/types.js';
import { eventually, newKey, type LedgerCluster, type Replica } from './ledger-backends.js';

type Claimed = Extract<ClaimResult, { state: 'claimed' }>;

function claimed(t: Test, r: ClaimResult, what: string): Claimed {
  t.equal(r.state, 'claimed', what);
  if (r.state !== 'claimed') throw new Error(`${what}: expected claimed, got ${JSON.stringify(r)}`);
  return r;
}

/** A replica closed when the test ends (each holds a pool of connections). */
async function open(t: Test, cluster: LedgerCluster, ...args: Parameters<LedgerCluster['replica']>): Promise<Replica> {
  const r = await cluster.replica(...args);
  t.teardown(() => r.close());
  return r;
}

export function ledgerSuite(t: Test, makeCluster: () => Promise<LedgerCluster>, opts: { racers?: number; concurrent?: boolean } = {}) {
  let cluster: LedgerCluster;
  t.before(async () => {
    cluster = await makeCluster();
    if (!cluster.concurrent && opts.concurrent !== false) throw new Error(`${cluster.name} cannot run claims concurrently: run the suite on it with { concurrent: false }`);
    t.comment(`ledger backend under test: ${cluster.name}`);
  });
  t.teardown(async () => { await cluster?.close(); });

  t.test('a new key is claimed, attempt 1; its duplicate meanwhile is in flight with a retry hint', async (t) => {
    const a = await open(t, cluster);
    const key = newKey();
    const first = claimed(t, await a.claim(key), 'first delivery claimed');
    t.equal(first.attempt, 1);
    // the format is the engine's (a UUID in SQL, a count in the in-memory table): a string no other claim got
    t.match(first.token, /^\S+$/);
    t.not(claimed(t, await a.claim(newKey()), 'another key claimed').token, first.token, 'each claim its own token');
    const dup = await a.claim(key);
    t.equal(dup.state, 'in_flight');
    if (dup.state === 'in_flight') t.ok(dup.retryAfterMs > 0 && dup.retryAfterMs <= 5000, `retry after ${dup.retryAfterMs} ms, within the lease`);
    t.match(await cluster.row(key), { status: 'processing', owner: first.token, attempt: 1 });
  });

  t.test('a duplicate of a done key answers the first status, on every replica', async (t) => {
    const [a, b] = [await open(t, cluster), await open(t, cluster)];
    const key = newKey();
    const c = claimed(t, await a.claim(key), 'claimed');
    t.equal(await a.complete(key, c.token, 202), true, 'completed by its owner');
    t.same(await a.claim(key), { state: 'done', status: 202 }, 'same replica');
    t.match(await b.claim(key), { state: 'done', status: 202 }, 'another replica');
    t.equal(await a.complete(key, c.token, 500), false, 'a second complete does not change the first status');
    t.match(await b.claim(key), { state: 'done', status: 202 });
    t.match(await cluster.row(key), { status: 'done', resp_status: 202 });
  });

  t.test('a released key is taken over by the next claim, attempt 2', async (t) => {
    const [a, b] = [await open(t, cluster), await open(t, cluster)];
    const key = newKey();
    const c1 = claimed(t, await a.claim(key), 'first claim');
    t.equal(await a.release(key, c1.token), true, 'released by its owner');
    t.match(await cluster.row(key), { status: 'failed', attempt: 1 });
    const c2 = claimed(t, await b.claim(key), 'the retry is forwarded again');
    t.equal(c2.attempt, 2);
    t.not(c2.token, c1.token);
    t.equal(await a.complete(key, c1.token, 200), false, 'the released token settles nothing');
    t.equal(await a.release(key, c1.token), false, 'nor releases the new claim');
    t.equal(await b.complete(key, c2.token, 200), true);
    t.match(await a.claim(key), { state: 'done', status: 200 });
  });

  t.test('a claim whose lease ran out is taken over; the stale token is fenced out', async (t) => {
    const a = await open(t, cluster, { leaseMs: 150 });
    const b = await open(t, cluster, { leaseMs: 150 });
    const key = newKey();
    const c1 = claimed(t, await a.claim(key), 'first claim (its gateway then dies)');
    const c2 = await eventually(async () => {
      const r = await b.claim(key);
      return r.state === 'claimed' ? r : (t.equal(r.state, 'in_flight', 'in flight until the lease ends'), undefined);
    }, 200, 20);
    t.ok(c2, 'taken over once the lease expired');
    if (!c2) return;
    t.equal(c2.attempt, 2);
    t.equal(await a.complete(key, c1.token, 200), false, 'stale owner cannot complete');
    t.equal(await a.release(key, c1.token), false, 'stale owner cannot release');
    t.match(await cluster.row(key), { status: 'processing', owner: c2.token, attempt: 2 });
    t.equal(await b.complete(key, c2.token, 201), true, 'new owner completes');
    t.match(await a.claim(key), { state: 'done', status: 201 });
  });

  t.test('a key older than retention is absent at once: claimed again from attempt 1', async (t) => {
    const a = await open(t, cluster, { retentionMs: 300, leaseMs: 100, cache: 0 });
    const key = newKey();
    const c1 = claimed(t, await a.claim(key), 'claimed');
    t.equal(await a.complete(key, c1.token, 200), true);
    t.match(await a.claim(key), { state: 'done' }, 'remembered within retention');
    const again = await eventually(async () => {
      const r = await a.claim(key);
      return r.state === 'done' ? undefined : r;
    }, 100, 20);
    t.ok(again, 'forgotten after retention, without waiting for a sweep');
    t.match(again, { state: 'claimed', attempt: 1 });
  });

  t.test('the LRU answers a done key without a database round trip', async (t) => {
    let hits = 0;
    const ops: string[] = [];
    const a = await open(t, cluster, { retryBudgetMs: 200 }, { onCacheHit: () => hits++, onOp: (op) => ops.push(op) });
    const b = await open(t, cluster, { retryBudgetMs: 200 });
    const key = newKey();
    const c = claimed(t, await a.claim(key), 'claimed');
    t.equal(await a.complete(key, c.token, 204), true);
    const before = a.dbCalls();
    const opsBefore = ops.length;
    for (let i = 0; i < 5; i++) t.same(await a.claim(key), { state: 'done', status: 204 });
    t.equal(a.dbCalls(), before, 'no database call for five duplicates');
    t.equal(ops.length, opsBefore, 'no ledger operation reported');
    t.equal(hits, 5, 'five cache hits reported');

    a.cutDatabase();
    t.same(await a.claim(key), { state: 'done', status: 204 }, 'answered with the database unreachable');
    const err = await a.claim(newKey()).then(() => undefined, (e: unknown) => e);
    t.ok(err instanceof GatewayError, 'a new key needs the database');
    t.match(err, { code: 'ledger_unavailable', status: 503 });
    t.ok((err as GatewayError).retryAfterSeconds! >= 1, 'with a Retry-After');

    // another replica learns the done key from the database once, then from its own LRU
    t.match(await b.claim(key), { state: 'done', status: 204 });
    const bCalls = b.dbCalls();
    t.match(await b.claim(key), { state: 'done', status: 204 });
    t.equal(b.dbCalls(), bCalls, 'second duplicate on the other replica: no database call');
  });

  t.test('in-flight and absent keys are never cached', async (t) => {
    const [a, b] = [await open(t, cluster), await open(t, cluster)];
    const key = newKey();
    const c = claimed(t, await a.claim(key), 'claimed on a');
    t.equal((await b.claim(key)).state, 'in_flight', 'b sees it in flight');
    t.equal(await a.release(key, c.token), true, 'a releases it (upstream failed)');
    const c2 = claimed(t, await b.claim(key), 'b is not answered from a stale "in flight"');
    t.equal(c2.attempt, 2);
  });

  t.test('cache 0 disables the LRU: every duplicate asks the database', async (t) => {
    const a = await open(t, cluster, { cache: 0 });
    const key = newKey();
    const c = claimed(t, await a.claim(key), 'claimed');
    await a.complete(key, c.token, 200);
    const before = a.dbCalls();
    t.match(await a.claim(key), { state: 'done', status: 200 });
    t.ok(a.dbCalls() > before, 'went to the database');
  });

  t.test('complete refuses what is not an HTTP status', async (t) => {
    const a = await open(t, cluster);
    const key = newKey();
    const c = claimed(t, await a.claim(key), 'claimed');
    await t.rejects(a.complete(key, c.token, 42), TypeError);
    t.match(await cluster.row(key), { status: 'processing' }, 'nothing was written');
  });

  t.test('ping answers while the database is reachable, and ledger_unavailable when it is not', async (t) => {
    const a = await open(t, cluster, { retryBudgetMs: 100 });
    await t.resolves(a.ping());
    a.cutDatabase();
    await t.rejects(a.ping(), { code: 'ledger_unavailable' });
  });

  if (opts.concurrent === false) {
    t.comment('no race tests on this backend: its replicas share one connection, so claims cannot race');
    return;
  }
  const racers = opts.racers ?? 300;
  t.test(`${racers} concurrent claims of one key across 3 replicas: exactly one is claimed`, async (t) => {
    // A generous budget: on a shared machine a racer may retry many times; the outcome must not change.
    const retries: Record<string, number> = {};
    const hooks = { onRetry: (err: unknown) => { const c = String((err as { code?: string }).code); retries[c] = (retries[c] ?? 0) + 1; } };
    const replicas = [await open(t, cluster, { retryBudgetMs: 10_000 }, hooks), await open(t, cluster, { retryBudgetMs: 10_000 }, hooks), await open(t, cluster, { retryBudgetMs: 10_000 }, hooks)];
    await Promise.all(replicas.map((r) => r.ping()));
    const key = newKey('race');
    const results = await Promise.all(Array.from({ length: racers }, (_, i) => replicas[i % 3]!.claim(key)));
    const won = results.filter((r) => r.state === 'claimed') as Claimed[];
    t.equal(won.length, 1, 'one winner');
    t.equal(results.filter((r) => r.state === 'in_flight').length, racers - 1, 'everyone else: in flight');
    t.match(await cluster.row(key), { status: 'processing', owner: won[0]!.token, attempt: 1 });

    t.equal(await replicas[1]!.complete(key, won[0]!.token, 200), true, 'the winner completes (from any replica)');
    const after = await Promise.all(Array.from({ length: racers }, (_, i) => replicas[i % 3]!.claim(key)));
    t.equal(after.filter((r) => r.state === 'done' && r.status === 200).length, racers, 'then every duplicate is done');
    t.comment(`statement retries during the race, by SQLSTATE: ${JSON.stringify(retries)}`);
  });

  t.test('concurrent takeover of one expired lease: exactly one new owner', async (t) => {
    // The dying claim has a short lease; the racers' own leases outlive the race.
    const dying = await open(t, cluster, { leaseMs: 100 });
    const replicas = [await open(t, cluster, { retryBudgetMs: 10_000 }), await open(t, cluster, { retryBudgetMs: 10_000 }), await open(t, cluster, { retryBudgetMs: 10_000 })];
    await Promise.all(replicas.map((r) => r.ping()));
    const key = newKey('takeover');
    claimed(t, await dying.claim(key), 'first claim');
    t.ok(await eventually(async () => ((await cluster.row(key))?.leased === false ? true : undefined), 200, 10), 'the first lease ran out');
    const n = Math.min(racers, 60);
    const results = await Promise.all(Array.from({ length: n }, (_, i) => replicas[i % 3]!.claim(key)));
    const won = results.filter((r) => r.state === 'claimed') as Claimed[];
    t.equal(won.length, 1, 'one takeover');
    t.equal(won[0]?.attempt, 2);
  });

  t.test('many keys racing at once: one winner per key', async (t) => {
    const replicas = [await open(t, cluster, { retryBudgetMs: 10_000 }), await open(t, cluster, { retryBudgetMs: 10_000 }), await open(t, cluster, { retryBudgetMs: 10_000 })];
    const keys = Array.from({ length: 30 }, () => newKey('many'));
    const results = await Promise.all(keys.flatMap((k) => replicas.flatMap((r) => [r.claim(k), r.claim(k)]).map((p) => p.then((res) => ({ k, res })))));
    for (const k of keys) {
      const wins = results.filter((x) => x.k === k && x.res.state === 'claimed').length;
      if (wins !== 1) t.fail(`${k}: ${wins} winners`);
    }
    t.equal(results.filter((x) => x.res.state === 'claimed').length, keys.length, `${keys.length} winners for ${keys.length} keys`);
  });

}
