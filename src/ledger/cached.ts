// The hot LRU in front of a ledger: settled (done) keys only, key → the upstream's first status.
// A duplicate of a done key is answered from memory, without a database round trip (CONTRACT.md,
// Idempotency). "Absent" and "in flight" are never cached: either can change at any moment on another
// replica, and a stale answer would lose or double a delivery. A done key cannot change until it
// expires, so an entry lives no longer than the ledger still remembers the key.
import { LRUCache } from 'lru-cache';
import type { ClaimResult, Ledger } from './types.js';

export interface CacheHooks {
  onCacheHit?(): void;
}

/**
 * lru-cache keeps TTLs in an integer array: a fraction is cut off, and a TTL under 1 ms would become
 * 0, which means never expire. Rounded up instead (a TTL is > 0 here).
 */
const wholeMs = (ttl: number) => Math.max(1, Math.ceil(ttl));

/** The LRU's first size (see grow()) */
const FIRST_CAPACITY = 1024;

export class CachedLedger implements Ledger {
  /** key → the first status: a number, not an object a key (100k entries are 100k fewer objects for the GC) */
  private lru: LRUCache<string, number> | undefined;

  constructor(
    readonly inner: Ledger,
    private readonly entries: number,
    private readonly retentionMs: number,
    private readonly hooks: CacheHooks = {},
  ) {
    this.lru = entries > 0 ? this.sized(Math.min(entries, FIRST_CAPACITY)) : undefined;
  }

  private sized(max: number): LRUCache<string, number> {
    return new LRUCache({ max, ttl: this.retentionMs, ttlAutopurge: false });
  }

  /**
   * lru-cache allocates its arrays for `max` entries at once, which an idle gateway would carry: the
   * LRU starts small and doubles when full, up to `cache` entries, carrying its entries over in
   * order of use with what is left of their time.
   */
  private grow(lru: LRUCache<string, number>): LRUCache<string, number> {
    const next = this.sized(Math.min(lru.max * 2, this.entries));
    for (const key of lru.rkeys()) {
      const status = lru.peek(key);
      const ttl = lru.getRemainingTTL(key);
      if (status !== undefined && ttl > 0) next.set(key, status, { ttl: wholeMs(ttl) });
    }
    this.lru = next;
    return next;
  }

  get backend() {
    return this.inner.backend;
  }

  /** how many done keys are held in memory */
  get size(): number {
    return this.lru?.size ?? 0;
  }

  /**
   * The answer for a done key held in memory, synchronously (the claim stage answers a duplicate
   * without a promise); undefined when the ledger must be asked.
   */
  cached(key: string): ClaimResult | undefined {
    const status = this.lru?.get(key);
    if (status === undefined) {
      // An engine that holds its done keys in memory answers them itself (the Map engine; no LRU then).
      const hit = this.inner.cached?.(key);
      if (hit) this.hooks.onCacheHit?.();
      return hit;
    }
    this.hooks.onCacheHit?.();
    return { state: 'done', status };
  }

  async claim(key: string): Promise<ClaimResult> {
    const hit = this.cached(key);
    if (hit) return hit;
    const r = await this.inner.claim(key);
    // Learned from the database (settled by another replica, or before a restart): remember it for
    // what is left of its retention.
    if (r.state === 'done') this.learn(key, r.status, r.expiresInMs ?? this.retentionMs);
    return r;
  }

  async complete(key: string, token: string, status: number): Promise<boolean> {
    const ok = await this.inner.complete(key, token, status);
    // Only a complete that the ledger accepted: a fenced-out token settled nothing.
    if (ok) this.learn(key, status, this.retentionMs);
    return ok;
  }

  release(key: string, token: string): Promise<boolean> {
    return this.inner.release(key, token);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  async close(): Promise<void> {
    this.lru?.clear();
    await this.inner.close();
  }

  /** Remembers a settled key (here, or by a spool's accept) for `ttl` ms, at most the retention. */
  learn(key: string, status: number, ttl: number): void {
    let lru = this.lru;
    if (!lru || ttl <= 0) return;
    if (lru.size >= lru.max && lru.max < this.entries && !lru.has(key)) lru = this.grow(lru);
    lru.set(key, status, { ttl: wholeMs(Math.min(ttl, this.retentionMs)) });
  }
}
