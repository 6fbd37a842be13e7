// The in-memory `embedded` ledger as a JavaScript Map (issue 16): the SQLite engine's states, owner
// tokens, leases and retention, without SQL between the gateway and a table that dies with the
// process anyway. `embedded:PATH` stays SQLite (durable); HOOKGATE_LEDGER_MEMORY=sqlite puts SQLite
// back in memory too, for A/B benchmarks (index.ts).
//
// One process, one event loop: every operation runs to completion before the next, so each is as
// atomic as SQLite's single statement, and no group commit is needed (there is nothing to amortize).
// Expiry is exact: a key at or past its expiry is absent to every operation, swept or not (SQLite
// answers complete/release on an expired row until its sweeper deletes it; here the sweeper is
// always current, which is one of the schedules SQLite allows). Time is the gateway's clock.
import type { ClaimResult, Ledger, LedgerOptions } from './types.js';
import { unavailable } from './retry.js';
import { checkStatus, newToken, validateOptions } from './common.js';

type Status = 'processing' | 'done' | 'failed';

/** One key's row. A class: one hidden class for every entry, no per-entry shape transitions. */
export class MapEntry {
  constructor(
    public status: Status,
    public owner: string,
    public attempt: number,
    public leaseUntil: number,
    /** the upstream's first status once done; 0 otherwise */
    public respStatus: number,
    public expiresAt: number,
  ) {}
}

/**
 * The owner of a settled (done or failed) entry: no token can settle it again (complete and release
 * need `processing`) and a takeover brings a new one, so the claim's token need not be held for the
 * rest of the retention (about 56 bytes a key).
 */
const SETTLED = '';

/** How many expired entries one write may remove on its way (amortized: a key is inserted once, removed once). */
const SWEEP_PER_WRITE = 4;

/** A frozen `done` answer per status: a duplicate answered from memory allocates nothing. */
const DONE = new Map<number, ClaimResult>();
export function doneAnswer(status: number): ClaimResult {
  let r = DONE.get(status);
  if (r === undefined) DONE.set(status, (r = Object.freeze({ state: 'done', status }) as ClaimResult));
  return r;
}

/**
 * The table: key → entry, in the Map's insertion order, which is kept in expiry order: a write that
 * moves a key's expiry forward (a complete, a takeover) re-inserts it at the end. With one retention
 * per process that order is exact, so the sweep only ever looks at the head: it removes expired
 * entries from the front and stops at the first live one, O(removed), never a scan of the table.
 */
export class MapStore {
  readonly map = new Map<string, MapEntry>();
  /** no entry expires before this (a lower bound): until then a write does not even look at the head */
  private nextExpiry = Infinity;

  get size(): number {
    return this.map.size;
  }

  /** The live entry of `key`, or undefined (absent or expired). */
  live(key: string, now: number): MapEntry | undefined {
    const e = this.map.get(key);
    return e !== undefined && e.expiresAt > now ? e : undefined;
  }

  // Times are plain arguments (ms), not an object: nothing allocated per operation but its answer.
  claim(key: string, token: string, now: number, leaseMs: number, retentionMs: number): ClaimResult {
    const e = this.map.get(key);
    if (e === undefined) {
      const expiresAt = now + retentionMs;
      this.map.set(key, new MapEntry('processing', token, 1, now + leaseMs, 0, expiresAt));
      if (expiresAt < this.nextExpiry) this.nextExpiry = expiresAt;
      this.sweep(now, SWEEP_PER_WRITE);
      return { state: 'claimed', token, attempt: 1 };
    }
    // SQLite's takeover rule: expired (claimed afresh, attempt 1), failed, or a lease that ran out.
    const expired = e.expiresAt <= now;
    if (expired || e.status === 'failed' || (e.status === 'processing' && e.leaseUntil <= now)) {
      e.status = 'processing';
      e.owner = token;
      e.attempt = expired ? 1 : e.attempt + 1;
      e.leaseUntil = now + leaseMs;
      e.respStatus = 0;
      this.extend(key, e, now + retentionMs);
      this.sweep(now, SWEEP_PER_WRITE);
      return { state: 'claimed', token, attempt: e.attempt };
    }
    if (e.status === 'done') return { state: 'done', status: e.respStatus, expiresInMs: e.expiresAt - now };
    return { state: 'in_flight', retryAfterMs: Math.max(1, e.leaseUntil - now) };
  }

  /** What a claim of a done key answers, without a write: the frozen answer, or undefined. */
  done(key: string, now: number): ClaimResult | undefined {
    const e = this.map.get(key);
    return e !== undefined && e.status === 'done' && e.expiresAt > now ? doneAnswer(e.respStatus) : undefined;
  }

  /** Fenced by the owner token: only the claim that holds the key settles it. */
  complete(key: string, token: string, status: number, now: number, retentionMs: number): boolean {
    const e = this.live(key, now);
    if (e === undefined || e.owner !== token || e.status !== 'processing') return false;
    e.status = 'done';
    e.owner = SETTLED;
    e.respStatus = status;
    e.leaseUntil = now;
    this.extend(key, e, now + retentionMs);
    return true;
  }

  release(key: string, token: string, now: number): boolean {
    const e = this.live(key, now);
    if (e === undefined || e.owner !== token || e.status !== 'processing') return false;
    e.status = 'failed';
    e.owner = SETTLED;
    e.leaseUntil = now;
    return true;
  }

  /** Moves the key's expiry and its place in the order (the end: the latest expiry). */
  private extend(key: string, e: MapEntry, expiresAt: number): void {
    e.expiresAt = expiresAt;
    this.map.delete(key);
    this.map.set(key, e);
  }

  /** Removes up to `max` expired entries from the head; returns how many. */
  sweep(now: number, max: number): number {
    if (now < this.nextExpiry) return 0;
    let removed = 0;
    for (const [key, e] of this.map) {
      if (e.expiresAt > now) {
        this.nextExpiry = e.expiresAt;
        return removed;
      }
      if (removed === max) return removed; // more to do: nextExpiry stays due
      this.map.delete(key);
      removed++;
    }
    this.nextExpiry = Infinity;
    return removed;
  }

  clear(): void {
    this.map.clear();
    this.nextExpiry = Infinity;
  }
}

/**
 * The Ledger over a MapStore. Answers are computed at the call; the promise only carries them. A done
 * key is also answered synchronously through `cached` (so the hot LRU in front is not needed: the
 * table is the memory; see frontLedger in index.ts). `cache: 0` turns that off, as it turns the LRU
 * off for the other engines: every duplicate is then a ledger operation.
 */
export class MapLedger implements Ledger {
  readonly backend = 'embedded' as const;
  private closed = false;
  private readonly sweeper: NodeJS.Timeout | undefined;
  readonly cached: ((key: string) => ClaimResult | undefined) | undefined;

  constructor(
    private readonly opts: LedgerOptions,
    readonly store: MapStore = new MapStore(),
    /** the clock, in ms; tests may move it */
    private readonly now: () => number = Date.now,
    /** close empties the store (false when several ledgers share one, as the suite's replicas do) */
    private readonly ownsStore = true,
  ) {
    this.cached = opts.cache > 0 ? (key) => (this.closed ? undefined : this.store.done(key, this.now())) : undefined;
    const every = opts.sweepIntervalMs ?? 60_000;
    if (every > 0) {
      this.sweeper = setInterval(() => void this.sweep(), every);
      this.sweeper.unref();
    }
  }

  claim(key: string): Promise<ClaimResult> {
    if (this.closed) return Promise.reject(unavailable('claim', new Error('the ledger is closed')));
    return Promise.resolve(this.store.claim(key, newToken(), this.now(), this.opts.leaseMs, this.opts.retentionMs));
  }

  complete(key: string, token: string, status: number): Promise<boolean> {
    checkStatus(status);
    if (this.closed) return Promise.reject(unavailable('complete', new Error('the ledger is closed')));
    return Promise.resolve(this.store.complete(key, token, status, this.now(), this.opts.retentionMs));
  }

  release(key: string, token: string): Promise<boolean> {
    if (this.closed) return Promise.reject(unavailable('release', new Error('the ledger is closed')));
    return Promise.resolve(this.store.release(key, token, this.now()));
  }

  /**
   * Removes expired entries, at most batch × maxBatches (the SQLite sweep's bound); returns how many.
   * Writes already sweep as they go; this catches up after traffic stops.
   */
  async sweep(batch = 1000, maxBatches = 20): Promise<number> {
    if (this.closed) return 0;
    return this.store.sweep(this.now(), batch * maxBatches);
  }

  async ping(): Promise<void> {
    if (this.closed) throw unavailable('ping', new Error('the ledger is closed'));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.ownsStore) this.store.clear();
  }
}

export function openMapLedger(opts: LedgerOptions, now?: () => number): MapLedger {
  validateOptions(opts);
  return new MapLedger(opts, new MapStore(), now);
}
