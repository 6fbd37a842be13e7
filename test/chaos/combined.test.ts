// Every fault at once, against three replicas sharing one PostgreSQL ledger (a schema of their own)
// through the wire-protocol fault proxy:
//   - the upstream app answers 500 at random and hangs past `upstream.timeout` (300 ms) at random;
//   - PostgreSQL: 40001 on some claims, the connection cut after some claims and completes committed,
//     and the database refusing connections for a while (`onError: reject`: 503, retried);
//   - one replica is a `hookgate run` subprocess, SIGKILLed and restarted again and again;
//   - the two others (in process) run with their clocks skewed by −60 s and +60 s (tolerance 5m), and
//     count their rate limits in a private redis-server, SIGKILLed during the run and started again
//     on the same port (limits fall back per replica; far above the rate, so never a 429).
// The provider retries until a 2xx. Nothing may be lost; doubles may only come from the documented
// crash-after-upstream window (docs/ledger.md), as measured: a delivery whose ledger row was still
// unsettled right after a kill, or whose settle failed past the ledger's retry budget while the
// database was away (the ledger's own answer in process; the subprocess's structured log fields).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { openLedger } from '../../src/ledger/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { launchPrivateRedis, requireRedisServer } from '../helpers/redis-server.js';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { account, CHAOS_ENV, CHAOS_ROUTE, pick, runProvider, sleep, startChaosApp } from './simulator.js';
import { assertDoublesInWindow, assertLimiterFellBackAndRecovered, HIGH_LIMITS, internalErrors, ledgerFailureKeys, recordingSettles, redisOutage, sharedPgSchema, startKiller, startProcessReplicas, startReplicaLimiter, type RecordingLedger, type ReplicaLimiter } from './replicas.js';

t.test('all faults at once: upstream 500s and hangs, PostgreSQL faults, Redis killed, a replica SIGKILLed, skewed clocks', async (t) => {
  const pgs = await sharedPgSchema(t, 'chaos_all');
  if (!pgs) return;
  // The limit store: a private redis-server (never the shared one), killed and started again.
  if (!requireRedisServer(t)) return;
  const u = new URL(pgs.url);
  const proxy = await FaultProxy.start({ host: u.hostname, port: Number(u.port || 5432) });
  const ledgerUrl = proxy.url(pgs.url);
  const app = await startChaosApp({ hangMs: pick(1_000, 3_000) });
  app.decide = () => {
    const r = Math.random();
    if (r < 0.15) return { kind: 'fail', status: 500 };
    if (r < 0.25) return { kind: 'hang' };
    return { kind: 'ok', delayMs: 20 };
  };

  // The subprocess first: it creates the schema; the in-process replicas find it migrated.
  const procs = await startProcessReplicas(t, app.url, { n: 1, ledgerUrl, schema: pgs.schema, lease: '1s', upstreamTimeout: '300ms', onError: 'reject' });
  const redis = await launchPrivateRedis();
  t.teardown(() => redis.kill());
  const config = testConfig({ upstream: { url: app.url, timeout: '300ms' }, ledger: { lease: '1s', onError: 'reject' }, routes: [CHAOS_ROUTE], limits: { store: redis.url, ...HIGH_LIMITS } }, CHAOS_ENV);
  const gws: TestGateway[] = [];
  const lims: ReplicaLimiter[] = [];
  const ledgers: RecordingLedger[] = [];
  t.teardown(async () => {
    proxy.clearRules();
    await proxy.up();
    for (const gw of gws) await gw.close();
    for (const l of lims) await l.handle.close();
    await app.close();
    await proxy.close();
  });
  for (const skew of [-60_000, 60_000]) {
    const ledger = recordingSettles(await openLedger({ url: ledgerUrl, schema: pgs.schema, retentionMs: 600_000, leaseMs: 1_000, cache: 1000, migrate: true, retryBudgetMs: 1_000, sweepIntervalMs: 0, poolSize: 4 }));
    ledgers.push(ledger);
    const lim = await startReplicaLimiter(config);
    lims.push(lim);
    gws.push(await startTestGateway(config, { ledger, now: () => Date.now() + skew, metrics: lim.metrics, limiters: lim.handle.limiters }));
  }

  const count = pick(240, 1_500);
  const concurrency = 6;
  const every = (match: string, n: number, action: Parameters<FaultProxy['addRule']>[0]['action']) =>
    Array.from({ length: Math.ceil((count * 2) / n) }, (_, k) => proxy.addRule({ match, occurrence: (k + 1) * n, action }));
  const serialization = every('hookgate:claim', 7, { kind: 'error', code: '40001' });
  const claimCuts = every('hookgate:claim', 11, { kind: 'cut-after' });
  const completeCuts = every('hookgate:complete', 13, { kind: 'cut-after' });

  // The database away once, in the middle of the run, longer than the ledgers' retry budgets (1 s in
  // process, the 2 s default in the subprocess), so some claims do fail and are answered 503.
  const downMs = pick(2_500, 3_000);
  let dbBackAt = 0;
  const outage = (async () => {
    await sleep(pick(1_500, 6_000));
    await proxy.down('refuse');
    await sleep(downMs);
    await proxy.up();
    dbBackAt = Date.now();
  })();
  // Redis (the in-process replicas' limit store) killed early, overlapping the database outage, and
  // started again on the same port.
  const redisDown = pick(2_000, 4_000);
  const redisOut = redisOutage(redis, lims, gws, { afterMs: pick(800, 3_000), downMs: redisDown });
  const killer = startKiller({ kills: pick(3, 8), everyMs: pick(800, 2_000), downMs: 300, kill: () => procs.kill(0), restart: () => procs.restart(0), unsettled: pgs.unsettled });

  const run = await runProvider({
    targets: () => [...procs.urls(), ...gws.map((g) => g.url)],
    count,
    concurrency,
    spacingMs: 50,
    prefix: `evt_all_${randomBytes(4).toString('hex')}`,
  });
  await killer.stop();
  await outage;
  await redisOut.done;

  const settleFailed = new Set([...ledgers.flatMap((l) => [...l.settleFailed]), ...ledgerFailureKeys(procs.lines())]);
  const settles = settleFailed.size;
  const a = account(`all at once: 15% 500 + 10% hang past 300 ms, PostgreSQL 40001/cuts + ${downMs} ms refused, Redis killed ${redisDown} ms, SIGKILL ×${killer.killed}, clocks ±60 s`, run, app, dbBackAt || undefined);
  // The documented window, measured: rows unsettled right after each kill, and settles that failed.
  assertDoublesInWindow(t, a, run, app, new Set([...killer.unsettledAtKills, ...settleFailed]), `rows unsettled right after ${killer.killed} kills, ${settles} keys whose ledger operation failed`);

  // Every fault fired.
  const trails = run.records.flatMap((r) => r.trail);
  t.ok(killer.killed >= 1, `the subprocess replica was SIGKILLed ${killer.killed} times`);
  t.ok(trails.includes('500'), 'the upstream answered 500 (passed through, retried by the provider)');
  t.ok(trails.includes('504'), 'the gateway answered 504 upstream_timeout to hung requests');
  t.ok(trails.includes('503'), 'the gateway answered 503 ledger_unavailable while the database was away');
  t.ok(serialization.some((r) => r.fired), `40001 injected (${serialization.filter((r) => r.fired).length})`);
  t.ok(claimCuts.some((r) => r.fired) && completeCuts.some((r) => r.fired), `connections cut after a claim (${claimCuts.filter((r) => r.fired).length}) and a complete (${completeCuts.filter((r) => r.fired).length})`);
  t.notOk(trails.includes('401'), 'no delivery refused as out of tolerance on the skewed replicas');
  // The limiter's outage costs no delivery: never a 429 (limits far above the rate), and the
  // in-process replicas never answer 500 (asserted below); their 5xx are the ledger's and upstream's.
  t.notOk(trails.includes('429'), 'no delivery rate limited while Redis was away');
  t.ok(run.records.some((x) => x.startedAt >= redisOut.killedAt && x.startedAt < redisOut.backAt && x.settledAt !== undefined), 'deliveries started during the Redis outage were delivered');
  await assertLimiterFellBackAndRecovered(t, lims, gws, redisOut);
  t.ok(gws.every((gw) => gw.logs.some((l) => l.outcome === 'forwarded')), 'both skewed replicas forwarded deliveries');

  t.equal(internalErrors(gws), 0, 'no 500 from the in-process gateways themselves');
  t.notOk(procs.lines().some((l) => l.includes('"outcome":"internal_error"')), 'no internal_error from the subprocess');
  proxy.clearRules();
  // What the ledger holds: one row per event, settled, except where a settle failed while the
  // database was away after the provider already had its 2xx: that row stays `processing` (its lease
  // long expired) and a later duplicate would take it over (docs/ledger.md's window).
  const rows = await pgs.rows();
  t.equal((rows.done ?? 0) + (rows.processing ?? 0), a.sent, `one row per event (${JSON.stringify(rows)})`);
  t.ok((rows.processing ?? 0) <= settles, `rows left processing (${rows.processing ?? 0}) <= settles that failed (${settles})`);
});
