// Two gateway replicas on one Redis: a tenant's quota is global, counted once across both.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { startUpstream } from '../helpers/upstream.js';
import { testConfig } from '../helpers/gateway.js';
import { ENV, ROUTES, deliver, forge, metricsText, sample, startLimitedGateway, type Answer } from '../helpers/limits.js';
import { requireRedis, SHARED_REDIS_URL } from '../helpers/redis-server.js';

const REDIS_URL = SHARED_REDIS_URL;

t.test('two replicas share one quota per tenant through Redis', async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = `hookgate-test:replicas:${randomUUID()}:`;
  const admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  t.teardown(async () => {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
    admin.disconnect();
  });

  const up = await startUpstream();
  t.teardown(() => up.close());
  // A one-hour window: the whole test runs inside one window however slow the machine is.
  const config = testConfig({ upstream: { url: up.url }, limits: { store: REDIS_URL, unverified: '100000/h', tenants: { '*': '1000/h', acme: '20/h' } }, routes: ROUTES }, ENV);
  // Generous command timeout: a busy machine must not turn a slow answer into a (per replica) fallback here.
  const replicas = [await startLimitedGateway(config, { keyPrefix: prefix, commandTimeoutMs: 5000 }), await startLimitedGateway(config, { keyPrefix: prefix, commandTimeoutMs: 5000 })];
  t.teardown(() => Promise.all(replicas.map((r) => r.close())));
  t.same(replicas.map((r) => r.limits.state()), ['shared', 'shared'], 'both replicas use Redis');

  t.test('forged deliveries naming acme, on both replicas, spend nothing', async (t) => {
    const answers: Answer[] = [];
    for (let i = 0; i < 200; i++) answers.push(await forge(replicas[i % 2]!.gw.url, 'acme'));
    t.ok(answers.every((a) => a.status === 401 && a.outcome === 'signature_invalid'), '200 forged deliveries: all 401');
    t.equal(await admin.exists(`${prefix}t:3600000:acme`), 0, 'no count for acme exists in Redis');
  });

  t.test('acme flooded on both replicas: at most its quota passes in total; globex all pass', async (t) => {
    const acme: Answer[] = [];
    const globex: Answer[] = [];
    for (let i = 0; i < 100; i++) {
      acme.push(await deliver(replicas[i % 2]!.gw.url, 'acme'));
      if (i % 4 === 0) globex.push(await deliver(replicas[(i / 4) % 2]!.gw.url, 'globex'));
    }
    const passed = acme.filter((a) => a.status === 200).length;
    t.equal(passed, 20, 'exactly 20 acme deliveries accepted across both replicas');
    t.equal(acme.filter((a) => a.status === 429 && a.outcome === 'rate_limited').length, 80, 'the rest: 429 rate_limited');
    t.ok(acme.filter((a) => a.status === 429).every((a) => Number(a.retryAfter) >= 1 && Number(a.retryAfter) <= 3600), 'Retry-After within the hour window');
    t.equal(acme.slice(0, 20).filter((a) => a.status === 200).length, 20, 'the first 20, whichever replica took them');
    t.equal(globex.length, 25);
    t.ok(globex.every((a) => a.status === 200), 'every globex delivery passes');
    t.equal(up.received.filter((r) => r.headers['hookgate-tenant'] === 'acme').length, 20, 'the upstream saw 20 acme deliveries');
    t.equal(Number(await admin.get(`${prefix}t:3600000:acme`)), 100, 'Redis holds the global count');

    const texts = await Promise.all(replicas.map((r) => metricsText(r.gw)));
    const limited = texts.map((m) => sample(m, 'hookgate_rate_limited_total', { tier: 'tenant', tenant: 'acme' }));
    t.equal(limited[0]! + limited[1]!, 80, 'the refusals are counted by the replica that made them');
    t.ok(limited[0]! > 0 && limited[1]! > 0, 'both replicas refused some');
    t.same(texts.map((m) => sample(m, 'hookgate_limiter_store_errors_total')), [0, 0], 'no fallback happened');
  });
});
