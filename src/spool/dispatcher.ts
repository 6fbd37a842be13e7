// Delivers what the spool holds (CONTRACT.md, Spool: dispatch). Its own loop, outside Fastify's
// request lifecycle. The accepting replica delivers a fresh delivery at once (stored `delivering`
// under this dispatcher's owner token); every replica also polls (1 s, jittered) for due rows: retries,
// deliveries left pending (no free slot, a route backing off) and lapsed leases of a replica that died.
// Per route and replica at most `concurrency` deliveries are in flight. A route whose upstream is not
// reached or overloaded backs off and sends one probe at a time; no attempt is spent on those.
import { randomUUID } from 'node:crypto';
import type { Config, Route } from '../config/load.js';
import type { Pool } from '../stages/upstream-pool.js';
import { callUpstream, discard } from '../stages/upstream-call.js';
import { errSummary } from '../errors.js';
import type { Claimed, Settle, SpoolStore } from './store/types.js';
import { classifyError, classifyStatus, deliveryKind, nextRetryMs, parseRetryAfter, routeBackoffMs, type DispatchClass } from './schedule.js';
import { pickFair } from './fairness.js';
import { LostAnswers, type SettledRow } from './lost-answers.js';
import { late, resignHeaders } from './resign.js';
import type { SpoolMetrics } from './metrics.js';
import type { LimitStore } from '../limits/store.js';
import { childSpan, endDispatchTrace, startDispatchTrace, traceHeaders, tracingActive } from '../observability/tracing.js';

export interface DispatcherLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface DispatcherDeps {
  store: SpoolStore;
  upstream: Pool;
  /** the config in force (a reload swaps routes' settings) */
  config: () => Config;
  log: DispatcherLog;
  /** idle poll period (default 1000 ms, ±20 %) */
  pollMs?: number;
  now?: () => number;
  random?: () => number;
  metrics?: SpoolMetrics;
  /** how often terminal rows past their keep time are deleted (default 60 s; 0: never) */
  sweepMs?: number;
  /** counts for `tenantRate` (limits.store: shared by the replicas through Redis, else this replica's) */
  rate?: LimitStore;
}

interface RouteState {
  inFlight: number;
  /** consecutive not-reached / overloaded answers; 0: the route is healthy */
  step: number;
  /** no claims before this (ms) */
  until: number;
  /** a probe of a backing-off route is in flight */
  probing: boolean;
  /** tenant rotation (fairness.ts) */
  cursor: string | undefined;
}

export class Dispatcher {
  private readonly routes = new Map<string, RouteState>();
  /** `route\0tenant` → until when (ms) the tenant's tenantRate window is used up: its rows are not claimed */
  private readonly paced = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  /** claims, accepts and settles whose answer was lost with the database */
  private readonly lost: LostAnswers;
  private timer: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private polling = false;
  private again = false;
  private stopped = false;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly deps: DispatcherDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.lost = new LostAnswers(deps.store, this.now);
  }

  /**
   * The lease a dispatch holds: it must outlive the upstream's timeout, with room for the settle
   * (the timeout again, between 1 s and 15 s). A replica that dies mid-dispatch delays its delivery
   * by this much; then any replica takes it over.
   */
  leaseMs(): number {
    const timeout = this.deps.config().upstream.timeoutMs;
    return timeout + Math.min(15_000, Math.max(1_000, timeout));
  }

  start(): void {
    this.schedule(0);
    const every = this.deps.sweepMs ?? 60_000;
    if (every > 0) {
      this.sweeper = setInterval(() => void this.sweep(), every);
      this.sweeper.unref();
    }
  }

  /** Deletes terminal deliveries past their keep time (bounded per run); failures wait for the next run. */
  async sweep(batch = 1000, maxBatches = 20): Promise<number> {
    let total = 0;
    try {
      for (const route of this.deps.config().routes) {
        if (!route.spool) continue;
        const n = await this.deps.store.expire(route.path, route.spool.maxAgeMs, route.spool.keepDeadMs);
        for (let i = 0; i < n; i++) this.deps.metrics?.dead(route.path);
        if (n) this.deps.log.warn({ route: route.path, count: n }, 'spool: deliveries older than maxAge are dead');
      }
      for (let i = 0; i < maxBatches && !this.stopped; i++) {
        const n = await this.deps.store.sweep(batch);
        total += n;
        if (n < batch) break;
      }
    } catch (err) {
      this.deps.log.warn({ err: errSummary(err) }, 'spool: sweeping kept deliveries failed; will try again');
    }
    return total;
  }

  private state(route: string): RouteState {
    let s = this.routes.get(route);
    if (!s) this.routes.set(route, (s = { inFlight: 0, step: 0, until: 0, probing: false, cursor: undefined }));
    return s;
  }

  /**
   * The accept stage asks for a slot before storing: a token when this replica will deliver it at
   * once (healthy route, a free slot), else null (stored pending, delivered by a poll).
   */
  reserve(route: Route): string | null {
    if (this.stopped || !route.spool) return null;
    const s = this.state(route.path);
    if (s.step > 0 || s.inFlight >= route.spool.concurrency) {
      // A poll may hold the free slots for its round trip: it runs again when it ends, for this delivery.
      if (this.polling) this.again = true;
      return null;
    }
    s.inFlight++;
    return randomUUID();
  }

  /** gives back a reserved slot that was not used (the accept failed, or the row was stored pending) */
  unreserve(route: Route): void {
    const s = this.state(route.path);
    s.inFlight = Math.max(0, s.inFlight - 1);
    this.kick();
  }

  /** a claim or accept under `owner` failed without an answer: it may have landed (lost-answers.ts) */
  maybeHeld(route: Route, keyHashes: Buffer[], owner: string): void {
    if (this.stopped) return;
    this.lost.claimed(route.path, keyHashes, owner, this.now() + this.leaseMs());
  }

  /** delivers a row this replica holds (reserved slot), in the background; `probe`: the one probe of a backing-off route */
  run(route: Route, row: Claimed, probe = false): void {
    const p = this.deliver(route, row, probe).catch((err) => this.deps.log.warn({ err: errSummary(err), key: row.key }, 'spool: dispatch failed'));
    this.running.add(p);
    void p.finally(() => {
      this.running.delete(p);
      const s = this.state(route.path);
      s.inFlight = Math.max(0, s.inFlight - 1);
      // however it ended (sent, expired, paced, failed to settle), the probe is over
      if (probe) s.probing = false;
      this.kick();
    });
  }

  /** whether the route takes deliveries now (not backing off after not reached / overloaded answers) */
  healthy(route: Route): boolean {
    return this.state(route.path).step === 0;
  }

  /** The route's backoff after an answer of the upstream (a dispatch's, or hybrid's synchronous try). */
  observe(route: Route, cls: DispatchClass, retryAfterS: number | undefined, reason: string | null): void {
    const s = this.state(route.path);
    if (cls === 'delivered' || cls === 'failed') {
      // The application answered (or took the request): the route is healthy again.
      if (s.step > 0) this.deps.log.info({ route: route.path }, 'spool: the upstream answers again; delivering');
      s.step = 0;
      s.until = 0;
    } else {
      s.step++;
      const wait = routeBackoffMs(s.step, cls, this.random(), retryAfterS);
      s.until = Math.max(s.until, this.now() + wait);
      if (s.step === 1) this.deps.log.warn({ route: route.path, reason }, 'spool: the upstream is not taking deliveries; holding them and probing');
    }
  }

  /** polls now: a replay or a resume made deliveries due */
  poke(): void {
    this.kick();
  }

  /** polls soon (a slot freed, or a claim came back full) */
  private kick(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), ms);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    if (this.stopped || this.polling) return;
    this.polling = true;
    this.again = false;
    let full = false;
    try {
      await this.recover();
      const now = this.now();
      for (const route of this.deps.config().routes) {
        if (!route.spool || this.stopped) continue;
        const s = this.state(route.path);
        if (now < s.until) continue;
        // A backing-off route: one probe at a time; a healthy one: its free slots.
        const probe = s.step > 0;
        const n = probe ? (s.probing ? 0 : 1) : route.spool.concurrency - s.inFlight;
        if (n <= 0) continue;
        // The slots are taken before the claim's round trip: an accept meanwhile must not take them too.
        s.inFlight += n;
        if (probe) s.probing = true;
        let claimed: Claimed[] = [];
        try {
          claimed = await this.claim(route, s, n);
        } finally {
          s.inFlight -= n - claimed.length;
          if (probe && !claimed.length) s.probing = false;
        }
        if (claimed.length === n && !probe) full = true;
        for (const row of claimed) {
          if (row.takeover) {
            this.deps.metrics?.takeover();
            this.deps.log.warn({ key: row.key, route: row.route }, 'spool: took over a delivery whose dispatch lease ran out');
          }
          this.run(route, row, probe);
        }
      }
    } catch (err) {
      this.deps.log.warn({ err: errSummary(err) }, 'spool: polling for due deliveries failed; will try again');
    } finally {
      this.polling = false;
    }
    if (full || this.again) this.schedule(0);
    else {
      const every = this.deps.pollMs ?? 1000;
      this.schedule(Math.round(every * (0.8 + 0.4 * this.random())));
    }
  }

  /** Writes the dispatch ends that failed and delivers the rows of lost claim answers that are ours; throws while the database is away. */
  private async recover(): Promise<void> {
    await this.lost.resettle(this.settled);
    const routes = this.deps.config().routes;
    for (const { route: path, rows } of await this.lost.held((p) => routes.some((r) => r.path === p && r.spool))) {
      const route = routes.find((r) => r.path === path)!;
      this.deps.log.info({ route: path, count: rows.length }, 'spool: a claim whose answer was lost had landed; delivering');
      this.state(path).inFlight += rows.length;
      for (const row of rows) this.run(route, row);
    }
  }

  private async claim(route: Route, s: RouteState, n: number): Promise<Claimed[]> {
    const now = this.now();
    const due = (await this.deps.store.due(route.path, n, Math.max(64, n * 8))).filter((d) => {
      const until = this.paced.get(`${route.path}\0${d.tenant}`);
      return until === undefined || until <= now;
    });
    if (!due.length) return [];
    const { picked, cursor } = pickFair(due, n, s.cursor);
    s.cursor = cursor;
    const hashes = picked.map((p) => p.keyHash);
    const owner = randomUUID();
    try {
      return await this.deps.store.claim(hashes, owner, this.leaseMs());
    } catch (err) {
      this.maybeHeld(route, hashes, owner);
      throw err;
    }
  }

  private async deliver(route: Route, row: Claimed, probe: boolean): Promise<void> {
    const spool = route.spool!;
    const config = this.deps.config();
    const s = this.state(route.path);
    // Too old to deliver: dead without a try (maxAge bounds how long the application may be away).
    if (this.now() - row.receivedAt > spool.maxAgeMs) {
      await this.settle(row, { state: 'dead', spend: false, status: null, error: 'expired: older than maxAge', keepMs: spool.keepDeadMs });
      return;
    }
    // tenantRate: over its window, the delivery waits for the next one (no attempt spent).
    const waitMs = await this.pace(route, row.tenant);
    if (waitMs > 0) {
      await this.settle(row, { state: 'pending', spend: false, delayMs: waitMs, status: null, error: 'paced: tenantRate' });
      return;
    }
    // Late for a handler that checks the signed timestamp itself: fresh signature headers.
    const now = this.now();
    const signed = spool.resign && late(route, row.meta, now) ? resignHeaders(route, row.tenant, row.meta!, row.method, row.body, row.headers, now) : undefined;
    // Tracing on: this try is a `hookgate.dispatch` span of its own trace, linked to the accepting
    // request's span; the upstream gets the dispatch's traceparent instead of the stored request's.
    const trace = tracingActive() ? startDispatchTrace(row.trace, { route: route.path, provider: route.provider, tenant: row.tenant, key: row.key, attempt: row.attempts + 1 }) : null;
    const headers = [...(trace ? withoutTraceContext(signed ?? row.headers) : signed ?? row.headers),
      'hookgate-provider', route.provider,
      'hookgate-tenant', row.tenant,
      'hookgate-idempotency-key', row.key,
      'hookgate-attempt', String(row.attempts + 1),
      'hookgate-delivery', deliveryKind(row.attempts, row.replays),
      'hookgate-received-at', new Date(row.receivedAt).toISOString(),
    ];
    if (trace) headers.push(...traceHeaders(trace));
    const span = trace && childSpan(trace, 'hookgate.forward');
    const timeout = config.upstream.timeoutMs;
    let cls: DispatchClass;
    let status: number | null = null;
    let retryAfter: number | undefined;
    let error: string | null = null;
    try {
      const res = await callUpstream(this.deps.upstream, {
        path: row.path,
        method: row.method as 'POST',
        headers,
        body: row.body.length ? row.body : row.method === 'GET' || row.method === 'HEAD' ? null : row.body,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      status = res.statusCode;
      retryAfter = parseRetryAfter(res.headers['retry-after'], this.now());
      // The answer's body is not needed; reading it to the end frees the connection.
      await discard(res);
      cls = classifyStatus(status, config.upstream.completes);
      if (cls !== 'delivered') error = `status ${status}`;
    } catch (err) {
      const code = (err as { code?: string }).code;
      cls = classifyError(code);
      error = `${cls === 'not_reached' ? 'not reached' : 'failed'}: ${code ?? (err as Error).message}`;
    }
    if (span) {
      if (status !== null) span.setAttribute('http.response.status_code', status);
      else span.setAttribute('hookgate.outcome', cls);
      span.end();
    }
    this.deps.metrics?.dispatched(route.path, cls);
    // One line per try at the upstream, like the delivery line of a synchronous forward (no body, no secret).
    this.deps.log.info({ route: route.path, provider: route.provider, tenant: row.tenant, key: row.key, attempt: row.attempts + 1, delivery: deliveryKind(row.attempts, row.replays), result: cls, status, resigned: !!signed }, 'spool dispatch');
    if (cls === 'delivered') this.deps.metrics?.delivered(Math.max(0, this.now() - row.receivedAt) / 1000);
    if (probe) s.probing = false;

    this.observe(route, cls, retryAfter, error);

    let how: Settle;
    if (cls === 'delivered') how = { state: 'delivered', status: status!, keepMs: spool.keepDeliveredMs };
    else if (cls === 'not_reached' || cls === 'overloaded') how = { state: 'pending', spend: false, delayMs: 0, status, error };
    else {
      const wait = nextRetryMs(row.attempts + 1, spool.retryMs, this.random());
      how = wait === null
        ? { state: 'dead', spend: true, status, error: error ?? 'failed', keepMs: spool.keepDeadMs }
        : { state: 'pending', spend: true, delayMs: wait, status, error };
    }
    if (!trace) return this.settle(row, how);
    const settling = childSpan(trace, 'hookgate.settle', { 'hookgate.settle': how.state });
    try {
      await this.settle(row, how);
    } finally {
      settling.end();
      endDispatchTrace(trace, cls, status ?? undefined);
    }
  }

  /** 0 when the tenant may have one more delivery now, else how long until its window resets (ms). */
  private pace(route: Route, tenant: string): Promise<number> {
    const rate = route.spool!.tenantRate.get(tenant) ?? route.spool!.tenantRate.get('*');
    const store = this.deps.rate;
    if (!rate || !store) return Promise.resolve(0);
    return new Promise((resolve) => store.hit(`spool|${route.path}|${tenant}`, rate.windowMs, rate.max, (hit) => {
      if (hit.current <= rate.max) return resolve(0);
      const wait = Math.max(1, hit.ttlMs);
      this.paced.set(`${route.path}\0${tenant}`, this.now() + wait);
      resolve(wait);
    }));
  }

  private async settle(row: Claimed, how: Settle): Promise<void> {
    try {
      this.settled(row, how, await this.deps.store.settle(row.keyHash, row.owner, how));
    } catch (err) {
      // Written again when the database answers; not lost either way: past its lease a replica delivers it again (the application may see it twice).
      this.lost.settleFailed(row, how, this.now() + this.leaseMs());
      this.deps.log.warn({ err: errSummary(err), key: row.key }, 'spool: settling a delivery failed; it is written again when the database answers');
    }
  }

  private readonly settled = (row: SettledRow, how: Settle, ok: boolean): void => {
    if (!ok) this.deps.log.warn({ key: row.key }, 'spool: the delivery was taken over by another replica before it was settled');
    else if (how.state === 'dead') {
      this.deps.metrics?.dead(row.route);
      this.deps.log.warn({ key: row.key, route: row.route, tenant: row.tenant, error: how.error }, 'spool: delivery is dead');
    }
  };

  /** SIGTERM: no new claims; deliveries in flight finish (each bounded by upstream.timeout) and settle. */
  async drain(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.sweeper) clearInterval(this.sweeper);
    while (this.polling) await new Promise((r) => setTimeout(r, 10));
    await Promise.allSettled([...this.running]);
    // One more try at the ends not yet written (else those rows are delivered again after their lease).
    await this.lost.lastResettle(this.settled);
  }
}

/** The stored request's header pairs without its trace context (the dispatch span's replaces it). */
function withoutTraceContext(pairs: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const lower = pairs[i]!.toLowerCase();
    if (lower === 'traceparent' || lower === 'tracestate') continue;
    out.push(pairs[i]!, pairs[i + 1]!);
  }
  return out;
}
