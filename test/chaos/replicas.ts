// Three in-process gateway replicas on one shared ledger (the PostgreSQL server), in front of a chaos app; replicas as `hookgate run`
// subprocesses for the scenarios that SIGKILL one, and the kill loop they share.
import type { Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import Database from 'better-sqlite3';
import type { Ledger } from '../../src/ledger/types.js';
import { keyHash } from '../../src/ledger/common.js';
import { startTestGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { metricsText, sample } from '../helpers/limits.js';
import type { PrivateRedis } from '../helpers/redis-server.js';
import type { Config } from '../../src/config/load.js';
import { createLimiters, type LimitersDeps, type LimitersHandle } from '../../src/limits/index.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { pgCluster, schemaName, type LedgerCluster } from '../helpers/ledger-backends.js';
import { requirePostgres } from '../helpers/services.js';
import { CHAOS_ENV, CHAOS_ROUTE, report, sleep, trailOf, type Accounting, type ChaosApp, type ProviderRun } from './simulator.js';

export interface Replicas {
  gws: TestGateway[];
  urls: () => string[];
  cluster: LedgerCluster;
  /** each replica's limiters (as `hookgate run` wires them), when `limits` was given */
  limiters: ReplicaLimiter[];
}

export interface ReplicaOptions {
  /** YAML-shaped upstream section additions (timeout, …) */
  upstream?: Record<string, unknown>;
  /** each replica's clock offset in ms (its length is the number of replicas; default three at 0) */
  skewMs?: number[];
  leaseMs?: number;
  /** YAML-shaped `limits` section: each replica then gets its own limiters (and metrics) on it */
  limits?: Record<string, unknown>;
}

/** null when the PostgreSQL server cannot be reached (the test has then failed, or been skipped). */
export async function startReplicas(t: Test, tag: string, appUrl: string, o: ReplicaOptions = {}): Promise<Replicas | null> {
  if (!(await requirePostgres(t))) return null;
  const cluster = await pgCluster(`chaos_${tag}`);
  const leaseMs = o.leaseMs ?? 2_000;
  // Each replica gets the memory limiter `hookgate run` builds, with limits far above the chaos rates
  // unless the scenario brings its own: a 429 is not the fault under test here.
  const config = testConfig({ upstream: { url: appUrl, ...o.upstream }, ledger: { lease: `${leaseMs}ms` }, routes: [CHAOS_ROUTE], limits: o.limits ?? HIGH_LIMITS }, CHAOS_ENV);
  const gws: TestGateway[] = [];
  const limiters: ReplicaLimiter[] = [];
  t.teardown(async () => {
    for (const gw of gws) await gw.close();
    for (const l of limiters) await l.handle.close();
    await cluster.close();
  });
  for (const skew of o.skewMs ?? [0, 0, 0]) {
    const ledger = await cluster.replica({ leaseMs });
    const lim = o.limits ? await startReplicaLimiter(config) : undefined;
    if (lim) limiters.push(lim);
    gws.push(await startTestGateway(config, { ledger, ...(lim ? { metrics: lim.metrics, limiters: lim.handle.limiters } : {}), ...(skew ? { now: () => Date.now() + skew } : {}) }));
  }
  return { gws, urls: () => gws.map((g) => g.url), cluster, limiters };
}

// ---------------------------------------------------------------------------------------------
// Rate limits on a shared (Redis) store, and Redis stopped under them
// ---------------------------------------------------------------------------------------------

/** Limits far above any chaos run's rate: a 429 in a chaos run is then a bug, not a quota. */
export const HIGH_LIMITS = { unverified: '1000000/m', tenants: { '*': '1000000/m' } };

export interface ReplicaLimiter {
  handle: LimitersHandle;
  metrics: ReturnType<typeof createMetrics>;
  /** what the limiter logged: `warn` when it fell back to local limits, `info` when Redis was back */
  logs: { level: 'warn' | 'info'; msg: string; fields: Record<string, unknown> }[];
}

/** One replica's limiters and metrics, as `hookgate run` builds them (the gateway then gets both). */
export async function startReplicaLimiter(config: Config): Promise<ReplicaLimiter> {
  const metrics = createMetrics({ defaultMetrics: false });
  const logs: ReplicaLimiter['logs'] = [];
  const log = {
    warn: (fields: Record<string, unknown>, msg: string) => void logs.push({ level: 'warn', msg, fields }),
    info: (fields: Record<string, unknown>, msg: string) => void logs.push({ level: 'info', msg, fields }),
  } as unknown as LimitersDeps['log'];
  const handle = createLimiters(config, { metrics, log });
  await handle.ready();
  return { handle, metrics, logs };
}

/** Polls (bounded, 50 ms apart) until `done` holds; the bound only limits a failing test. */
export async function until(done: () => boolean, bound = 20_000): Promise<boolean> {
  for (let waited = 0; waited < bound && !done(); waited += 50) await sleep(50);
  return done();
}

export interface RedisOutage {
  /** when Redis was killed / answered again (0: not yet) */
  readonly killedAt: number;
  readonly backAt: number;
  /** hookgate_limiter_store_up as scraped from each replica once all had fallen back */
  readonly upWhileDown: number[];
  /** the same once all were shared again */
  readonly upAfter: number[];
  /** every replica noticed the outage / the recovery (within the poll bound) */
  readonly allFellBack: boolean;
  readonly allRecovered: boolean;
  /** from Redis answering again to every replica back on the shared store, ms */
  readonly sharedAgainMs?: number;
  done: Promise<void>;
}

/**
 * Kills the private Redis `afterMs` from now, keeps it dead `downMs`, starts it again on the same
 * port, and records what the replicas' limiters and gauges showed meanwhile.
 */
export function redisOutage(redis: PrivateRedis, lims: ReplicaLimiter[], gws: TestGateway[], o: { afterMs: number; downMs: number }): RedisOutage {
  const s = { killedAt: 0, backAt: 0, upWhileDown: [] as number[], upAfter: [] as number[], allFellBack: false, allRecovered: false, sharedAgainMs: undefined as number | undefined };
  const gauges = () => Promise.all(gws.map(async (g) => sample(await metricsText(g), 'hookgate_limiter_store_up')));
  const done = (async () => {
    await sleep(o.afterMs);
    await redis.kill();
    s.killedAt = Date.now();
    s.allFellBack = await until(() => lims.every((l) => l.handle.state() === 'local'), o.downMs);
    if (s.allFellBack) s.upWhileDown = await gauges();
    await sleep(Math.max(0, o.downMs - (Date.now() - s.killedAt)));
    await redis.start();
    s.backAt = Date.now();
    s.allRecovered = await until(() => lims.every((l) => l.handle.state() === 'shared'));
    if (s.allRecovered) s.sharedAgainMs = Date.now() - s.backAt;
    if (s.allRecovered) s.upAfter = await gauges();
  })();
  return Object.assign(s, { done }) as RedisOutage;
}

/** What a Redis outage must leave behind on every replica: it fell back, counted locally, recovered. */
export async function assertLimiterFellBackAndRecovered(t: Test, lims: ReplicaLimiter[], gws: TestGateway[], out: RedisOutage): Promise<void> {
  t.ok(out.allFellBack, 'every replica fell back to local limits while Redis was down');
  t.same(out.upWhileDown, lims.map(() => 0), 'hookgate_limiter_store_up went to 0 on every replica');
  // The lines by their level and fields (the store and, going down, the error), not their wording.
  t.ok(lims.every((l) => l.logs.some((x) => x.level === 'warn' && x.fields.store !== undefined && x.fields.err !== undefined)), 'each replica logged a warning naming the store and its error');
  t.ok(out.allRecovered, `every replica went back to the shared store once Redis was up again (after ${out.sharedAgainMs ?? '—'} ms)`);
  t.same(out.upAfter, lims.map(() => 1), 'hookgate_limiter_store_up back to 1 on every replica');
  t.ok(lims.every((l) => l.logs.some((x) => x.level === 'info' && x.fields.store !== undefined)), 'each replica logged the recovery, naming the store');
  const local = await Promise.all(gws.map(async (g) => sample(await metricsText(g), 'hookgate_limiter_store_errors_total')));
  t.ok(local.some((n) => n > 0), `limit decisions made locally during the outage (hookgate_limiter_store_errors_total ${local.join('/')})`);
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
  /** the keys (hashes) of the rows still `processing`, read directly from the server */
  unsettled(): Promise<string[]>;
}

/**
 * A fresh schema name on the PostgreSQL server for `hookgate run` subprocesses to share (they create
 * it when they migrate), dropped at the end; undefined when the server cannot be reached (the test
 * has then failed, or been skipped with HOOKGATE_TEST_ALLOW_SKIP=1: test/helpers/services.ts).
 */
export async function sharedPgSchema(t: Test, tag: string): Promise<PgSchema | undefined> {
  const url = await requirePostgres(t);
  if (!url) return undefined;
  const schema = schemaName(tag);
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  t.teardown(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await admin.end();
  });
  return {
    url,
    schema,
    rows: async () => {
      const { rows } = await admin.query(`SELECT status, count(*)::int AS n FROM "${schema}".hookgate_ledger GROUP BY status`);
      return Object.fromEntries(rows.map((r: { status: string; n: number }) => [r.status, r.n]));
    },
    unsettled: async () => {
      const { rows } = await admin.query(`SELECT encode(key_hash, 'hex') AS h FROM "${schema}".hookgate_ledger WHERE status = 'processing'`);
      return rows.map((r: { h: string }) => r.h);
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
    `limits: { unverified: ${HIGH_LIMITS.unverified}, tenants: { "*": ${HIGH_LIMITS.tenants['*']} } }`,
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

/** A ledger key as the ledger stores it (hex of its hash): what the kill snapshots hold. */
export const hashOf = (key: string): string => keyHash(key).toString('hex');

/** A ledger that records the keys whose settle (complete or release) failed past its retries. */
export interface RecordingLedger extends Ledger {
  readonly settleFailed: Set<string>;
}

/**
 * Wraps a replica's ledger so that a settle failing past the ledger's retry budget (the claim then
 * stays `processing` until its lease runs out: docs/ledger.md's second way into the
 * crash-after-upstream window) is known by its key, from the ledger's own answer.
 */
export function recordingSettles(inner: Ledger): RecordingLedger {
  const settleFailed = new Set<string>();
  const settle = <T>(key: string, p: Promise<T>): Promise<T> => p.catch((err) => { settleFailed.add(hashOf(key)); throw err; });
  return {
    get backend() { return inner.backend; },
    settleFailed,
    claim: (k) => inner.claim(k),
    ...(inner.cached ? { cached: (k: string) => inner.cached!(k) } : {}),
    complete: (k, tok, s) => settle(k, inner.complete(k, tok, s)),
    release: (k, tok) => settle(k, inner.release(k, tok)),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
}

/**
 * The keys a `hookgate run` subprocess reported a failed ledger operation for, read from the
 * structured fields of its log lines (a warning or worse carrying `key` and `err`), never from their
 * wording. Failed claims are among them: they are answered 503 and never forwarded, so they can only
 * widen the window, never hide a double.
 */
export function ledgerFailureKeys(lines: string[]): Set<string> {
  const out = new Set<string>();
  for (const line of lines) {
    let l: { level?: number; key?: unknown; err?: unknown };
    try { l = JSON.parse(line); } catch { continue; }
    if ((l.level ?? 0) >= 40 && typeof l.key === 'string' && l.err) out.add(hashOf(l.key));
  }
  return out;
}

/** The rows of an embedded ledger file still `processing` (claimed, not settled), as key hashes. */
export function embeddedUnsettled(file: string): () => Promise<string[]> {
  return async () => {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare(`SELECT lower(hex(key_hash)) AS h FROM hookgate_ledger WHERE status = 'processing'`).all() as { h: string }[]).map((r) => r.h);
    } finally {
      db.close();
    }
  };
}

export interface Killer {
  readonly killed: number;
  /**
   * The keys (hashes) whose ledger row was still `processing` right after a kill: claimed, not
   * settled. Only a delivery among them that the app processed can be doubled by the kill (its
   * gateway died between the upstream's answer and the complete); measured, not estimated.
   */
  readonly unsettledAtKills: Set<string>;
  /** when the last restarted process was ready */
  readonly lastRestart: number;
  /** stop after the current kill/restart; resolves when the loop is done */
  stop(): Promise<void>;
}

/**
 * Kills and restarts a replica `kills` times, `everyMs` apart, `downMs` dead each time, while
 * deliveries flow: `kill(k)` and `restart(k)` get the kill's number (pick a slot from it).
 * `unsettled()` reads the ledger's `processing` rows, right after each kill (well within the lease,
 * so no takeover has settled one of them yet).
 */
export function startKiller(o: { kills: number; everyMs: number; downMs: number; kill: (k: number) => Promise<void>; restart: (k: number) => Promise<void>; unsettled: () => Promise<Iterable<string>> }): Killer {
  let done = false;
  const state = { killed: 0, unsettledAtKills: new Set<string>(), lastRestart: 0 };
  const loop = (async () => {
    for (let k = 0; k < o.kills && !done; k++) {
      await sleep(o.everyMs);
      if (done) break;
      await o.kill(k);
      state.killed++;
      for (const h of await o.unsettled()) state.unsettledAtKills.add(h);
      await sleep(o.downMs);
      await o.restart(k);
      state.lastRestart = Date.now();
    }
  })();
  return {
    get killed() { return state.killed; },
    get unsettledAtKills() { return state.unsettledAtKills; },
    get lastRestart() { return state.lastRestart; },
    stop: async () => {
      done = true;
      await loop;
    },
  };
}

/**
 * The crash-after-upstream window, asserted from what was measured: an event may be processed twice
 * only if the app processed it while its ledger row was unsettled at a kill, or while its settle
 * failed (`window`, key hashes). Everything else is exactly once, as everywhere.
 */
export function assertDoublesInWindow(t: Test, a: Accounting, run: ProviderRun, app: ChaosApp, window: Set<string>, what: string): void {
  const exposed = new Set(run.sent.filter((id) => (app.processed.get(id) ?? 0) > 0 && app.keys.has(id) && window.has(hashOf(app.keys.get(id)!))));
  assertExactlyOnce(t, a, run, exposed.size);
  t.same(a.doubledIds.filter((id) => !exposed.has(id)), [], `every doubled event was exposed to the window (${what})`);
  t.comment(`doubled ${a.doubled} of ${exposed.size} events exposed to the window (${what})`);
}
