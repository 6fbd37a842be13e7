// Chaos on the ledger's database, through the PostgreSQL wire-protocol fault proxy (never by stopping
// the machine's shared server): serialization failures (40001) on claims, the connection cut after a
// claim or a complete committed (the client never hears the answer), and the database refusing
// connections for a while. The gateways run with `onError: reject`: a 503 with Retry-After, which the
// provider retries. At the end every event was processed by the app exactly once.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openLedger } from '../../src/ledger/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { schemaName } from '../helpers/ledger-backends.js';
import { requirePostgres } from '../helpers/services.js';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { account, CHAOS_ENV, CHAOS_ROUTE, pick, runProvider, sleep, startChaosApp, type ChaosApp } from './simulator.js';
import { assertExactlyOnce, HIGH_LIMITS, internalErrors } from './replicas.js';

// The fault proxy sits between the gateways and the PostgreSQL server: without the server, the file fails.
const pgUrl = await requirePostgres(t);
if (pgUrl) {
  const u = new URL(pgUrl);
  const admin = new pg.Pool({ connectionString: pgUrl, max: 1 });
  t.teardown(() => admin.end());

  /** Three replicas, each with its own pool through one fault proxy, on a fresh schema. */
  const setup = async (t: Test, tag: string): Promise<{ proxy: FaultProxy; app: ChaosApp; gws: TestGateway[]; urls: () => string[] }> => {
    const proxy = await FaultProxy.start({ host: u.hostname, port: Number(u.port || 5432) });
    const schema = schemaName(`chaos_db_${tag}`);
    const app = await startChaosApp();
    const leaseMs = 2_000;
    const config = testConfig({ upstream: { url: app.url }, ledger: { lease: `${leaseMs}ms`, onError: 'reject' }, limits: HIGH_LIMITS, routes: [CHAOS_ROUTE] }, CHAOS_ENV);
    const gws: TestGateway[] = [];
    for (let i = 0; i < 3; i++) {
      const ledger = await openLedger({ url: proxy.url(pgUrl), schema, retentionMs: 600_000, leaseMs, cache: 1000, migrate: true, retryBudgetMs: 1_000, sweepIntervalMs: 0, poolSize: 4 });
      gws.push(await startTestGateway(config, { ledger }));
    }
    t.teardown(async () => {
      proxy.clearRules();
      await proxy.up();
      for (const gw of gws) await gw.close();
      await app.close();
      await proxy.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    });
    return { proxy, app, gws, urls: () => gws.map((g) => g.url) };
  };
  const prefix = (tag: string) => `evt_${tag}_${randomBytes(4).toString('hex')}`;
  /** Fault every `every`-th matching statement, `n` times in all (each rule counts its own matches). */
  const everyNth = (proxy: FaultProxy, match: string, every: number, n: number, action: Parameters<FaultProxy['addRule']>[0]['action']) =>
    Array.from({ length: n }, (_, k) => proxy.addRule({ match, occurrence: (k + 1) * every, action }));

  t.test('40001 serialization failures on one claim in three', async (t) => {
    const s = await setup(t, 'ser');
    const count = pick(60, 500);
    const rules = everyNth(s.proxy, 'hookgate:claim', 3, count, { kind: 'error', code: '40001' });
    const run = await runProvider({ targets: s.urls, count, concurrency: 8, prefix: prefix('ser') });
    const a = account('PostgreSQL 40001 on one claim in three', run, s.app);
    assertExactlyOnce(t, a, run);
    t.ok(rules.filter((r) => r.fired).length >= count / 4, `40001 injected (${rules.filter((r) => r.fired).length} times)`);
    t.equal(internalErrors(s.gws), 0);
  });

  t.test('connection cut after a claim or a complete committed', async (t) => {
    const s = await setup(t, 'cut');
    const count = pick(60, 400);
    const claims = everyNth(s.proxy, 'hookgate:claim', 5, count, { kind: 'cut-after' });
    const completes = everyNth(s.proxy, 'hookgate:complete', 5, count, { kind: 'cut-after' });
    const run = await runProvider({ targets: s.urls, count, concurrency: 8, prefix: prefix('cut') });
    const a = account('connection cut after one claim / complete in five committed', run, s.app);
    assertExactlyOnce(t, a, run);
    t.ok(claims.some((r) => r.fired) && completes.some((r) => r.fired), `cuts injected (claims ${claims.filter((r) => r.fired).length}, completes ${completes.filter((r) => r.fired).length})`);
    t.equal(internalErrors(s.gws), 0);
  });

  t.test('database refusing connections for a while (onError: reject → 503, retried)', async (t) => {
    const s = await setup(t, 'down');
    // Longer than the ledgers' retry budget (1 s), and deliveries still flowing when it starts (the
    // short run used to finish before the outage once claims got faster).
    const downMs = pick(1_500, 5_000);
    let faultEnd = 0;
    const fault = (async () => {
      await sleep(300);
      await s.proxy.down('refuse');
      await sleep(downMs);
      await s.proxy.up();
      faultEnd = Date.now();
    })();
    const run = await runProvider({ targets: s.urls, count: pick(150, 400), concurrency: 6, spacingMs: 30, prefix: prefix('down') });
    await fault;
    const a = account(`database refusing connections for ${downMs} ms`, run, s.app, faultEnd);
    assertExactlyOnce(t, a, run);
    t.ok(run.records.some((x) => x.trail.includes('503')), 'the gateway answered 503 ledger_unavailable while the database was away');
    t.equal(internalErrors(s.gws), 0);
  });
}
