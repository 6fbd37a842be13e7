// Three in-process gateway replicas on one shared ledger (PostgreSQL when reachable, else the
// PGlite fallback of the ledger tests), in front of a chaos app.
import type { Test } from 'tap';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { pgCluster, type LedgerCluster } from '../helpers/ledger-backends.js';
import { CHAOS_ENV, CHAOS_ROUTE, report, trailOf, type Accounting, type ProviderRun } from './simulator.js';

export interface Replicas {
  gws: TestGateway[];
  urls: () => string[];
  cluster: LedgerCluster;
}

export interface ReplicaOptions {
  /** YAML-shaped upstream section additions (timeout, …) */
  upstream?: Record<string, unknown>;
  /** each replica's clock offset in ms (its length is the number of replicas; default three at 0) */
  skewMs?: number[];
  leaseMs?: number;
}

export async function startReplicas(t: Test, tag: string, appUrl: string, o: ReplicaOptions = {}): Promise<Replicas> {
  const cluster = await pgCluster(`chaos_${tag}`);
  const leaseMs = o.leaseMs ?? 2_000;
  const config = testConfig({ upstream: { url: appUrl, ...o.upstream }, ledger: { lease: `${leaseMs}ms` }, routes: [CHAOS_ROUTE] }, CHAOS_ENV);
  const gws: TestGateway[] = [];
  for (const skew of o.skewMs ?? [0, 0, 0]) {
    const ledger = await cluster.replica({ leaseMs });
    gws.push(await startTestGateway(config, { ledger, ...(skew ? { now: () => Date.now() + skew } : {}) }));
  }
  t.teardown(async () => {
    for (const gw of gws) await gw.close();
    await cluster.close();
  });
  return { gws, urls: () => gws.map((g) => g.url), cluster };
}

/** What no delivery may ever produce: a 500 internal_error from the gateway itself. */
export function internalErrors(gws: TestGateway[]): number {
  return gws.reduce((n, gw) => n + gw.logs.filter((l) => l.outcome === 'internal_error' || (l.status === 500 && l.outcome !== 'forwarded')).length, 0);
}

/** The promise, asserted the same way in every scenario. */
export function assertExactlyOnce(t: Test, a: Accounting, run: ProviderRun, allowDoubled = 0): void {
  report(a);
  t.equal(a.lost, 0, `nothing lost (${a.sent} sent)${a.lost ? `: ${a.lostIds.slice(0, 3).map((id) => trailOf(run, id)).join('; ')}` : ''}`);
  t.ok(a.doubled <= allowDoubled, `doubled ${a.doubled} <= ${allowDoubled}${a.doubled ? `: ${a.doubledIds.slice(0, 3).join(', ')}` : ''}`);
  t.equal(a.refused, 0, 'the provider never got a final 4xx');
  t.equal(a.exhausted, 0, "no delivery ran out of the provider's attempts");
  t.equal(a.once + a.doubled, a.sent, 'every event processed');
}

