// Three in-process gateway replicas on one shared ledger (PostgreSQL when reachable, else the
// PGlite fallback of the ledger tests), in front of a chaos app; replicas as `hookgate run`
// subprocesses for the scenarios that SIGKILL one, and the kill loop they share.
import type { Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { pgCluster, pgTarget, schemaName, type LedgerCluster } from '../helpers/ledger-backends.js';
import { CHAOS_ENV, CHAOS_ROUTE, report, sleep, trailOf, type Accounting, type ChaosApp, type ProviderRun } from './simulator.js';

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


// ---------------------------------------------------------------------------------------------
// Replicas as real `hookgate run` subprocesses, for scenarios that SIGKILL one
// ---------------------------------------------------------------------------------------------

export interface PgSchema {
  url: string;
  schema: string;
  /** ledger rows in the schema, by status (what the replicas left there) */
  rows(): Promise<Record<string, number>>;
}

/**
 * A fresh schema name on the PostgreSQL server for `hookgate run` subprocesses to share (they create
 * it when they migrate), dropped at the end; undefined when no server is reachable (a subprocess
 * cannot use the PGlite fallback).
 */
export async function sharedPgSchema(t: Test, tag: string): Promise<PgSchema | undefined> {
  const tgt = await pgTarget();
  if (tgt.kind !== 'postgres') return undefined;
  const schema = schemaName(tag);
  const admin = new pg.Pool({ connectionString: tgt.url, max: 1 });
  t.teardown(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await admin.end();
  });
  return {
    url: tgt.url,
    schema,
    rows: async () => {
      const { rows } = await admin.query(`SELECT status, count(*)::int AS n FROM "${schema}".hookgate_ledger GROUP BY status`);
      return Object.fromEntries(rows.map((r: { status: string; n: number }) => [r.status, r.n]));
    },
  };
}

export interface ProcessReplicaOptions {
  /** how many subprocesses (default 3) */
  n?: number;
  /** embedded:PATH or postgres://… (possibly through a fault proxy) */
  ledgerUrl: string;
  schema?: string;
  /** the lease, e.g. '1s' */
  lease?: string;
  upstreamTimeout?: string;
  onError?: 'reject' | 'allow';
}

export interface ProcessReplicas {
  /** the current process in each slot (a killed slot keeps its dead process until restarted) */
  procs: GatewayProcess[];
  urls: () => string[];
  /** SIGKILL the process in slot i, as an OOM kill or a node failure would */
  kill(i: number): Promise<void>;
  /** start slot i again from the same config (it gets new ports) */
  restart(i: number): Promise<void>;
  /** every stdout line of every process ever started in this set, killed ones included */
  lines(): string[];
}

/** `hookgate run` subprocesses on one config file (ports 0), killed at the end of the test. */
export async function startProcessReplicas(t: Test, appUrl: string, o: ProcessReplicaOptions): Promise<ProcessReplicas> {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-chaos-proc-'));
  const file = join(dir, 'hookgate.yaml');
  const ledger = [`url: ${JSON.stringify(o.ledgerUrl)}`, `lease: ${o.lease ?? '1s'}`, ...(o.schema ? [`schema: ${o.schema}`] : []), ...(o.onError ? [`onError: ${o.onError}`] : [])];
  writeFileSync(file, [
    'listen: 127.0.0.1:0',
    'admin: 127.0.0.1:0',
    `upstream: { url: ${JSON.stringify(appUrl)}, timeout: ${o.upstreamTimeout ?? '10s'} }`,
    `ledger: { ${ledger.join(', ')} }`,
    'routes:',
    '  - { path: /hooks, provider: standard, tenant: acme, secrets: [env:CHAOS_SECRET] }',
    '',
  ].join('\n'));
  const all: GatewayProcess[] = [];
  const spawnOne = async () => {
    const p = await spawnGateway(file, CHAOS_ENV);
    all.push(p);
    return p;
  };
  t.teardown(async () => {
    for (const p of all) await p.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  // The first one migrates (creates the schema) alone; the others find it done.
  const procs = [await spawnOne()];
  procs.push(...(await Promise.all(Array.from({ length: (o.n ?? 3) - 1 }, spawnOne))));
  return {
    procs,
    urls: () => procs.map((p) => p.url),
    kill: (i) => procs[i]!.kill(),
    restart: async (i) => {
      procs[i] = await spawnOne();
    },
    lines: () => all.flatMap((p) => p.lines),
  };
}

/**
 * Settles that failed past the ledger's retry budget (the claim stays `processing` until its lease
 * runs out): docs/ledger.md's second way into the crash-after-upstream window.
 */
export function settleFailures(gws: TestGateway[], lines: string[] = []): number {
  const msg = 'ledger settle failed';
  return gws.reduce((n, gw) => n + gw.logs.filter((l) => String(l.msg ?? '').startsWith(msg)).length, 0) + lines.filter((l) => l.includes(msg)).length;
}

export interface Killer {
  readonly killed: number;
  /** app requests received but not yet answered at the moments of the kills (what a kill can double) */
  readonly inFlightAtKills: number;
  /** when the last restarted process was ready */
  readonly lastRestart: number;
  /** stop after the current kill/restart; resolves when the loop is done */
  stop(): Promise<void>;
}

/**
 * Kills and restarts a replica `kills` times, `everyMs` apart, `downMs` dead each time, while
 * deliveries flow: `kill(k)` and `restart(k)` get the kill's number (pick a slot from it).
 */
export function startKiller(app: ChaosApp, o: { kills: number; everyMs: number; downMs: number; kill: (k: number) => Promise<void>; restart: (k: number) => Promise<void> }): Killer {
  let done = false;
  const state = { killed: 0, inFlightAtKills: 0, lastRestart: 0 };
  const loop = (async () => {
    for (let k = 0; k < o.kills && !done; k++) {
      await sleep(o.everyMs);
      if (done) break;
      const before = app.inFlight;
      await o.kill(k);
      state.killed++;
      state.inFlightAtKills += before;
      await sleep(o.downMs);
      await o.restart(k);
      state.lastRestart = Date.now();
    }
  })();
  return {
    get killed() { return state.killed; },
    get inFlightAtKills() { return state.inFlightAtKills; },
    get lastRestart() { return state.lastRestart; },
    stop: async () => {
      done = true;
      await loop;
    },
  };
}
