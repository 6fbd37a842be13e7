// A gateway replica (a real `hookgate run` subprocess) SIGKILLed and restarted, again and again, while
// deliveries flow. A claim held by the dead process blocks its duplicates until the lease (1 s) runs
// out, then the provider's retry takes it over: nothing is lost. Two ledgers:
//   - embedded, on disk (WAL), shared by the subprocess and two in-process replicas;
//   - PostgreSQL: three subprocesses sharing a schema of their own (ledger.schema), a different one
//     killed each time.
//
// The documented window: a delivery the app processed (or was processing) when its gateway died, before
// the ledger's complete, is forwarded again after the takeover. It is measured at each kill (the ledger
// rows still `processing` right after it) and every doubled event must be one of those the app
// processed; outside the kill scenarios every suite asserts doubled == 0.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLedger } from '../../src/ledger/index.js';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { account, CHAOS_ENV, CHAOS_ROUTE, pick, runProvider, startChaosApp } from './simulator.js';
import { assertDoublesInWindow, embeddedUnsettled, HIGH_LIMITS, internalErrors, ledgerFailureKeys, recordingSettles, sharedPgSchema, startKiller, startProcessReplicas, type RecordingLedger } from './replicas.js';

const concurrency = 6;

t.test('a replica SIGKILLed and restarted while deliveries flow (embedded ledger on disk)', async (t) => {
  const app = await startChaosApp();
  t.teardown(() => app.close());
  // Work takes a while, so a kill finds deliveries in flight at the app.
  app.decide = () => ({ kind: 'ok', delayMs: 40 });
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-chaos-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ledgerFile = join(dir, 'ledger.db');
  const ledgerUrl = `embedded:${ledgerFile}`;
  const procs = await startProcessReplicas(t, app.url, { n: 1, ledgerUrl, lease: '1s' });
  const config = testConfig({ upstream: { url: app.url, timeout: '10s' }, ledger: { lease: '1s' }, limits: HIGH_LIMITS, routes: [CHAOS_ROUTE] }, CHAOS_ENV);
  const gws: TestGateway[] = [];
  const ledgers: RecordingLedger[] = [];
  for (let i = 0; i < 2; i++) {
    const ledger = recordingSettles(await openLedger({ url: ledgerUrl, retentionMs: 600_000, leaseMs: 1_000, cache: 1000, migrate: true, sweepIntervalMs: 0 }));
    ledgers.push(ledger);
    gws.push(await startTestGateway(config, { ledger }));
  }
  t.teardown(async () => {
    for (const gw of gws) await gw.close();
  });

  const killer = startKiller({ kills: pick(3, 8), everyMs: pick(400, 1_500), downMs: 300, kill: () => procs.kill(0), restart: () => procs.restart(0), unsettled: embeddedUnsettled(ledgerFile) });
  const run = await runProvider({
    targets: () => [...procs.urls(), ...gws.map((g) => g.url)],
    count: pick(300, 1_500),
    concurrency,
    spacingMs: 50,
    prefix: `evt_crash_${randomBytes(4).toString('hex')}`,
  });
  await killer.stop();
  const a = account(`replica SIGKILLed and restarted ${killer.killed} times (embedded ledger on disk)`, run, app, killer.lastRestart || undefined);
  t.ok(killer.killed >= 1, `the replica was killed ${killer.killed} times while deliveries flowed`);
  assertDoublesInWindow(t, a, run, app, killer.unsettledAtKills, `rows unsettled right after ${killer.killed} kills`);
  t.equal(internalErrors(gws), 0);
  t.same(ledgers.map((l) => l.settleFailed.size), [0, 0], 'every settle of the in-process replicas committed (the ledger never failed)');
  t.equal(ledgerFailureKeys(procs.lines()).size, 0, 'the subprocess reported no failed ledger operation');
});

t.test('three replicas on PostgreSQL (one schema), one SIGKILLed and restarted at a time', async (t) => {
  const pgs = await sharedPgSchema(t, 'chaos_crash');
  if (!pgs) return;
  const app = await startChaosApp();
  t.teardown(() => app.close());
  app.decide = () => ({ kind: 'ok', delayMs: 40 });
  const procs = await startProcessReplicas(t, app.url, { n: 3, ledgerUrl: pgs.url, schema: pgs.schema, lease: '1s' });

  // A different replica each time: whichever dies, its claims are taken over after the lease.
  const killer = startKiller({ kills: pick(3, 8), everyMs: pick(400, 1_500), downMs: 300, kill: (k) => procs.kill(k % 3), restart: (k) => procs.restart(k % 3), unsettled: pgs.unsettled });
  const run = await runProvider({
    targets: procs.urls,
    count: pick(300, 1_500),
    concurrency,
    spacingMs: 50,
    prefix: `evt_crashpg_${randomBytes(4).toString('hex')}`,
  });
  await killer.stop();
  const a = account(`3 subprocess replicas on PostgreSQL (schema of their own), one SIGKILLed and restarted ${killer.killed} times`, run, app, killer.lastRestart || undefined);
  t.ok(killer.killed >= 1, `a replica was killed ${killer.killed} times while deliveries flowed`);
  assertDoublesInWindow(t, a, run, app, killer.unsettledAtKills, `rows unsettled right after ${killer.killed} kills`);
  // What the shared schema holds: one settled row per event, none left in flight.
  t.same(await pgs.rows(), { done: a.sent }, `the schema ${pgs.schema} holds every event once, settled`);
  t.equal(ledgerFailureKeys(procs.lines()).size, 0, 'no replica reported a failed ledger operation');
});
