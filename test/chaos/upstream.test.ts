// Chaos on the upstream side: the app answering 500 at random, hanging past upstream.timeout,
// refusing connections for a while; and the replicas' clocks skewed within the tolerance. A provider
// retries; at the end every event was processed by the app exactly once.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { account, pick, runProvider, sleep, startChaosApp } from './simulator.js';
import { assertExactlyOnce, internalErrors, startReplicas, type Replicas } from './replicas.js';

const prefix = (tag: string) => `evt_${tag}_${randomBytes(4).toString('hex')}`;

t.test('upstream answering 500 at random', async (t) => {
  const app = await startChaosApp();
  t.teardown(() => app.close());
  const rate = 0.3;
  app.decide = () => (Math.random() < rate ? { kind: 'fail', status: 500 } : { kind: 'ok' });
  const r = await startReplicas(t, 'u500', app.url);
  if (!r) return;
  const run = await runProvider({ targets: r.urls, count: pick(60, 600), concurrency: 8, prefix: prefix('u500') });
  const a = account('upstream 500 at random (30%)', run, app);
  assertExactlyOnce(t, a, run);
  t.ok(a.received > a.sent, 'the fault fired: some events were received more than once and failed');
  t.equal(internalErrors(r.gws), 0, 'no 500 from the gateway itself');
});

t.test('upstream hanging past upstream.timeout (300ms)', async (t) => {
  const app = await startChaosApp({ hangMs: pick(1_000, 3_000) });
  t.teardown(() => app.close());
  app.decide = () => (Math.random() < 0.2 ? { kind: 'hang' } : { kind: 'ok' });
  const r = await startReplicas(t, 'hang', app.url, { upstream: { timeout: '300ms' } });
  if (!r) return;
  const run = await runProvider({ targets: r.urls, count: pick(40, 300), concurrency: 8, prefix: prefix('hang') });
  const a = account('upstream hanging past the 300ms timeout (20%)', run, app);
  assertExactlyOnce(t, a, run);
  t.ok(run.records.some((x) => x.trail.includes('504')), 'the gateway answered 504 upstream_timeout to some attempts');
  t.equal(internalErrors(r.gws), 0);
});

t.test('upstream refusing connections for a while', async (t) => {
  const app = await startChaosApp();
  t.teardown(() => app.close());
  const r = await startReplicas(t, 'refuse', app.url);
  if (!r) return;
  const downMs = pick(1_000, 5_000);
  let faultEnd = 0;
  const fault = (async () => {
    await sleep(200);
    await app.stop();
    await sleep(downMs);
    await app.start();
    faultEnd = Date.now();
  })();
  // Enough deliveries that some are still flowing when the app goes away at 200 ms.
  const run = await runProvider({ targets: r.urls, count: pick(150, 400), concurrency: 6, spacingMs: pick(20, 30), prefix: prefix('refuse') });
  await fault;
  const a = account(`upstream refusing connections for ${downMs} ms`, run, app, faultEnd);
  assertExactlyOnce(t, a, run);
  t.ok(run.records.some((x) => x.trail.includes('502')), 'the gateway answered 502 upstream_unavailable while the app was down');
  t.equal(internalErrors(r.gws), 0);
});

t.test('replica clocks skewed by -60 s, 0 and +60 s (tolerance 5m), with random 500s', async (t) => {
  const app = await startChaosApp();
  t.teardown(() => app.close());
  app.decide = () => (Math.random() < 0.2 ? { kind: 'fail', status: 500 } : { kind: 'ok' });
  const r = await startReplicas(t, 'skew', app.url, { skewMs: [-60_000, 0, 60_000] });
  if (!r) return;
  const run = await runProvider({ targets: r.urls, count: pick(60, 600), concurrency: 8, prefix: prefix('skew') });
  const a = account('clocks skewed ±60 s, 20% upstream 500', run, app);
  assertExactlyOnce(t, a, run);
  t.notOk(run.records.some((x) => x.trail.includes('401')), 'no delivery refused as out of tolerance');
  t.equal(internalErrors(r.gws), 0);
});
