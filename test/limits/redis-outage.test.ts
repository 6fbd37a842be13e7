// Redis stopped mid-test (a private redis-server, never the shared one): no delivery fails, limits fall
// back to each replica, one warn line, the error counter moves; Redis back: the quota is global again.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream } from '../helpers/upstream.js';
import { testConfig } from '../helpers/gateway.js';
import { freePort, startPrivateRedis } from '../helpers/redis-server.js';
import { ENV, ROUTES, deliver, metricsText, sample, startLimitedGateway, tally, type LimitedGateway } from '../helpers/limits.js';

/** Polls (bounded, 100 ms apart) until `done` holds; the bound only limits a failing test, it asserts no timing. */
async function until(done: () => boolean, bound = 30_000): Promise<boolean> {
  for (let waited = 0; waited < bound; waited += 100) {
    if (done()) return true;
    await sleep(100);
  }
  return done();
}

/** hookgate_limiter_store_up as scraped: its value, or undefined when the series is absent. */
async function storeUp(r: LimitedGateway): Promise<number | undefined> {
  const m = /^hookgate_limiter_store_up ([0-9.]+)$/m.exec(await metricsText(r.gw));
  return m ? Number(m[1]) : undefined;
}
const warns = (r: LimitedGateway) => r.limiterLogs.filter((l) => l.level === 'warn');
// The recovery line, by its level and its field (the store), not its wording.
const recoveries = (r: LimitedGateway) => r.limiterLogs.filter((l) => l.level === 'info' && 'store' in l.fields);

t.test('Redis stopped and started again under two replicas', async (t) => {
  const redis = await startPrivateRedis(t);
  if (!redis) return;

  const up = await startUpstream();
  t.teardown(() => up.close());
  const config = testConfig({ upstream: { url: up.url }, limits: { store: redis.url, tenants: { '*': '1000/h', acme: '10/h' } }, routes: ROUTES }, ENV);
  const prefix = `hookgate-test:outage:${randomUUID()}:`;
  const replicas = [await startLimitedGateway(config, { keyPrefix: prefix }), await startLimitedGateway(config, { keyPrefix: prefix })];
  const [a, b] = replicas as [LimitedGateway, LimitedGateway];
  t.teardown(() => Promise.all(replicas.map((r) => r.close())));

  t.test('while Redis is up the quota is global', async (t) => {
    t.same(replicas.map((r) => r.limits.state()), ['shared', 'shared']);
    t.same(await Promise.all(replicas.map(storeUp)), [1, 1], 'hookgate_limiter_store_up is 1 on both');
    const shared = await tally(4, (i) => deliver(replicas[i % 2]!.gw.url, 'acme'));
    t.same(shared.byStatus, { 200: 4 });
  });

  t.test('Redis killed: every delivery is answered, limits are per replica', async (t) => {
    await redis.kill();
    const onA = await tally(30, () => deliver(a.gw.url, 'acme'));
    const onB = await tally(30, () => deliver(b.gw.url, 'acme'));
    const others = await tally(10, (i) => deliver(replicas[i % 2]!.gw.url, 'globex'));
    t.same(onA.byStatus, { 200: 10, 429: 20 }, 'replica A: its own 10/h, counted in memory from zero');
    t.same(onB.byStatus, { 200: 10, 429: 20 }, 'replica B: its own 10/h too (together more than the global quota)');
    t.ok([...onA.answers, ...onB.answers].filter((x) => x.status === 429).every((x) => x.outcome === 'rate_limited' && Number(x.retryAfter) >= 1), '429s are rate_limited with Retry-After');
    t.same(others.byStatus, { 200: 10 }, 'no delivery failed because the limiter is down');
    t.same(replicas.map((r) => r.limits.state()), ['local', 'local']);
    t.same(await Promise.all(replicas.map(storeUp)), [0, 0], 'hookgate_limiter_store_up fell to 0 on both');

    for (const [name, r] of [['A', a], ['B', b]] as const) {
      t.equal(warns(r).length, 1, `replica ${name} logged one warn line for the outage`);
      t.match(warns(r)[0], { msg: /unreachable; limits are per replica/, fields: { store: redis.url } });
      const m = await metricsText(r.gw);
      t.ok(sample(m, 'hookgate_limiter_store_errors_total') >= 35, `replica ${name} counted its local decisions in hookgate_limiter_store_errors_total`);
    }
    // More requests while it stays down: still one warn line each.
    await tally(5, () => deliver(a.gw.url, 'globex'));
    t.equal(warns(a).length, 1, 'still one line for the same outage');
  });

  t.test('Redis back on the same port: the shared store is used again', async (t) => {
    await redis.start();
    t.ok(await until(() => replicas.every((r) => r.limits.state() === 'shared')), 'both replicas reconnect');
    t.same(await Promise.all(replicas.map(storeUp)), [1, 1], 'hookgate_limiter_store_up is back to 1');
    for (const r of replicas) {
      t.equal(recoveries(r).length, 1, 'one recovery line');
      t.equal(warns(r).length, 1, 'no new warn line');
    }
    const before = await Promise.all(replicas.map(async (r) => sample(await metricsText(r.gw), 'hookgate_limiter_store_errors_total')));
    // The new Redis starts empty, so acme has its global 10/h again, counted once across both replicas.
    const global = await tally(30, (i) => deliver(replicas[i % 2]!.gw.url, 'acme'));
    t.same(global.byStatus, { 200: 10, 429: 20 }, 'global again: 10 accepted in total, not 10 a replica');
    const after = await Promise.all(replicas.map(async (r) => sample(await metricsText(r.gw), 'hookgate_limiter_store_errors_total')));
    t.same(after, before, 'no more fallbacks');
  });
});

t.test('Redis unreachable at start: the gateway starts and serves with per-replica limits', async (t) => {
  const port = await freePort(); // nothing listens here
  const up = await startUpstream();
  t.teardown(() => up.close());
  const config = testConfig({ upstream: { url: `${up.url}` }, limits: { store: `redis://:hunter2@127.0.0.1:${port}`, tenants: { acme: '3/h' } }, routes: ROUTES }, ENV);
  const r = await startLimitedGateway(config, { keyPrefix: `hookgate-test:start:${randomUUID()}:` });
  t.teardown(() => r.close());
  t.equal(r.limits.state(), 'local');
  t.equal(await storeUp(r), 0, 'hookgate_limiter_store_up is 0 from the start');
  const got = await tally(5, () => deliver(r.gw.url, 'acme'));
  t.same(got.byStatus, { 200: 3, 429: 2 }, 'limits still hold, in this replica');
  t.equal(warns(r).length, 1, 'one warn line');
  t.notMatch(JSON.stringify(r.limiterLogs), /hunter2/, 'the store password is not logged');
  t.ok(sample(await metricsText(r.gw), 'hookgate_limiter_store_errors_total') >= 5);
});

t.test('Redis hung with its connection open (command timeouts): fallback, then the probe brings it back', async (t) => {
  const redis = await startPrivateRedis(t);
  if (!redis) return;
  const up = await startUpstream();
  t.teardown(() => up.close());
  const config = testConfig({ upstream: { url: up.url }, limits: { store: redis.url, tenants: { acme: '5/h' } }, routes: ROUTES }, ENV);
  const r = await startLimitedGateway(config, { keyPrefix: `hookgate-test:hung:${randomUUID()}:`, commandTimeoutMs: 300 });
  t.teardown(() => r.close());
  t.equal(r.limits.state(), 'shared');

  redis.pause();
  t.teardown(() => redis.resume());
  const during = await tally(8, () => deliver(r.gw.url, 'acme'));
  t.same(during.byStatus, { 200: 5, 429: 3 }, 'the first command times out, then every decision is local at once');
  t.equal(r.limits.state(), 'local');
  t.equal(await storeUp(r), 0, 'a hung Redis sets hookgate_limiter_store_up to 0');
  t.equal(warns(r).length, 1, 'one warn line');

  redis.resume();
  t.ok(await until(() => r.limits.state() === 'shared'), 'the probe finds Redis answering again');
  t.equal(await storeUp(r), 1, 'and back to 1');
  t.equal(recoveries(r).length, 1, 'one recovery line');
});

t.test('with the memory store, hookgate_limiter_store_up is absent (there is no shared store to be up)', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const r = await startLimitedGateway(testConfig({ upstream: { url: up.url }, routes: ROUTES }, ENV));
  t.teardown(() => r.close());
  t.equal((await deliver(r.gw.url, 'acme')).status, 200);
  t.equal(await storeUp(r), undefined);
  t.match(await metricsText(r.gw), /hookgate_limiter_store_errors_total 0/, 'while the error counter is there, at 0');
});
