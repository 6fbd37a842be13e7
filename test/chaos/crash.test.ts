// A gateway replica (a real `hookgate run` subprocess) SIGKILLed and restarted, again and again, while
// deliveries flow through it and two in-process replicas on the same ledger (an on-disk embedded
// ledger, WAL, shared by the processes). A claim held by the dead process blocks its duplicates until
// the lease (1 s) runs out, then the provider's retry takes it over: nothing is lost.
//
// The documented window: a delivery the app processed (or was processing) when its gateway died, before
// the ledger's complete, is forwarded again after the takeover. It is counted, reported and bounded by
// kills × deliveries in flight; outside this scenario every suite asserts doubled == 0.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLedger } from '../../src/ledger/index.js';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { account, CHAOS_ENV, CHAOS_ROUTE, pick, runProvider, sleep, startChaosApp } from './simulator.js';
import { assertExactlyOnce, internalErrors } from './replicas.js';

t.test('a replica SIGKILLed and restarted while deliveries flow', async (t) => {
  const app = await startChaosApp();
  t.teardown(() => app.close());
  // Work takes a while, so a kill finds deliveries in flight at the app.
  app.decide = () => ({ kind: 'ok', delayMs: 40 });
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-chaos-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ledgerUrl = `embedded:${join(dir, 'ledger.db')}`;
  const leaseMs = 1_000;
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstream: { url: "${app.url}", timeout: 10s }\nledger: { url: "${ledgerUrl}", lease: 1s }\nroutes:\n  - { path: /hooks, provider: standard, tenant: acme, secrets: [env:CHAOS_SECRET] }\n`);

  let proc: GatewayProcess = await spawnGateway(file, CHAOS_ENV);
  t.teardown(() => proc.kill());
  const config = testConfig({ upstream: { url: app.url, timeout: '10s' }, ledger: { lease: '1s' }, routes: [CHAOS_ROUTE] }, CHAOS_ENV);
  const gws: TestGateway[] = [];
  for (let i = 0; i < 2; i++) {
    const ledger = await openLedger({ url: ledgerUrl, retentionMs: 600_000, leaseMs, cache: 1000, migrate: true, sweepIntervalMs: 0 });
    gws.push(await startTestGateway(config, { ledger }));
  }
  t.teardown(async () => {
    for (const gw of gws) await gw.close();
  });

  const kills = pick(3, 8);
  const concurrency = 6;
  let done = false;
  let killed = 0;
  let inFlightAtKills = 0;
  let lastRestart = 0;
  const chaos = (async () => {
    for (let k = 0; k < kills && !done; k++) {
      await sleep(pick(400, 1_500));
      // deliveries the app has received but not answered: the ones a kill can double
      const before = [...app.received.values()].reduce((a, b) => a + b, 0) - [...app.processed.values()].reduce((a, b) => a + b, 0);
      await proc.kill();
      killed++;
      inFlightAtKills += Math.max(0, before);
      await sleep(300);
      proc = await spawnGateway(file, CHAOS_ENV);
      lastRestart = Date.now();
    }
  })();
  const run = await runProvider({
    targets: () => [proc.url, ...gws.map((g) => g.url)],
    count: pick(300, 1_500),
    concurrency,
    spacingMs: 50,
    prefix: `evt_crash_${randomBytes(4).toString('hex')}`,
  });
  done = true;
  await chaos;
  const a = account(`replica SIGKILLed and restarted ${killed} times`, run, app, lastRestart || undefined);
  t.ok(killed >= 1, `the replica was killed ${killed} times while deliveries flowed`);
  // A kill can double at most the deliveries in flight through the dead replica: <= concurrency each.
  assertExactlyOnce(t, a, run, killed * concurrency);
  t.comment(`doubled in the crash-after-upstream window: ${a.doubled} (kills ${killed}, app requests unanswered at the kills ${inFlightAtKills})`);
  t.equal(internalErrors(gws), 0);
});
