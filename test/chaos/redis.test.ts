// Chaos on the rate limiter's store: three replicas count their limits in a private redis-server
// (never the machine's shared Redis), which is SIGKILLed while the provider delivers, stays dead a
// while, and is started again on the same port. The limiter never fails a request (src/limits/shared.ts):
// each replica falls back to local limits, then goes back to Redis. Limits are far above the
// provider's rate, so nothing may be answered 429, and nothing 5xx (the upstream never fails here).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { startPrivateRedis } from '../helpers/redis-server.js';
import { account, pick, runProvider, startChaosApp } from './simulator.js';
import { assertExactlyOnce, assertLimiterFellBackAndRecovered, HIGH_LIMITS, internalErrors, redisOutage, startReplicas } from './replicas.js';

t.test('Redis (the limit store) killed and restarted while deliveries flow', async (t) => {
  const redis = await startPrivateRedis(t);
  if (!redis) return;
  const app = await startChaosApp();
  t.teardown(() => app.close());
  const r = await startReplicas(t, 'redis', app.url, { limits: { store: redis.url, ...HIGH_LIMITS } });
  if (!r) return;
  t.same(r.limiters.map((l) => l.handle.state()), ['shared', 'shared', 'shared'], 'the replicas start on the shared store');

  // Deliveries before, during and after the outage: the provider stops only `afterMs` after Redis is back.
  const downMs = pick(2_000, 10_000);
  const afterMs = pick(1_500, 5_000);
  const out = redisOutage(redis, r.limiters, r.gws, { afterMs: pick(1_000, 3_000), downMs });
  const run = await runProvider({
    targets: r.urls,
    count: pick(2_000, 20_000),
    concurrency: 4,
    spacingMs: 30,
    prefix: `evt_redis_${randomBytes(4).toString('hex')}`,
    stopWhen: () => out.backAt > 0 && Date.now() - out.backAt > afterMs,
  });
  await out.done;

  const a = account(`Redis (limits.store) killed for ${downMs} ms, restarted on the same port`, run, app, out.backAt);
  assertExactlyOnce(t, a, run);
  const during = run.records.filter((x) => x.startedAt >= out.killedAt && x.startedAt < out.backAt);
  const after = run.records.filter((x) => x.startedAt >= out.backAt);
  t.ok(during.length > 0 && after.length > 0, `deliveries flowed during the outage (${during.length}) and after it (${after.length})`);
  const trails = run.records.flatMap((x) => x.trail);
  t.equal(trails.filter((s) => s === '429').length, 0, 'no delivery rate limited (the limits are far above the rate, locally too)');
  t.equal(trails.filter((s) => /^5/.test(s)).length, 0, `no 5xx from the gateway, the limiter never fails a request (${a.attempts} attempts for ${a.sent} deliveries)`);
  t.equal(internalErrors(r.gws), 0, 'no 500 from the gateway itself');
  await assertLimiterFellBackAndRecovered(t, r.limiters, r.gws, out);
});
