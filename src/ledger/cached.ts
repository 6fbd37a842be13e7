// The hot LRU in front of a ledger: settled (done) keys only, key → the upstream's first status.
// A duplicate of a done key is answered from memory, without a database round trip (CONTRACT.md,
// Idempotency). "Absent" and "in flight" are never cached: either can change at any moment on another
// replica, and a stale answer would lose or double a delivery. A done key cannot change until it
// expires, so an entry lives no longer than the ledger still remembers the key.
import { DoneKeys } from './done-keys.js';
import type { ClaimResult, Ledger } from './types.js';

export interface CacheHooks {
  onCacheHit?(): void;
}

export class CachedLedger implements Ledger {
  /** settled keys → the first status */
  private readonly done: DoneKeys | undefined;

  constructor(
    readonly inner: Ledger,
    entries: number,
    private readonly retentionMs: number,
    private readonly hooks: CacheHooks = {},
  ) {
    this.done = entries > 0 ? new DoneKeys(entries) : undefined;
  }

  get backend() {
    return this.inner.backend;
  }

  /** how many done keys are held in memory */
  get size(): number {
    return this.done?.size ?? 0;
  }

  /**
   * The answer for a done key held in memory, synchronously (the claim stage answers a duplicate
   * without a promise); undefined when the ledger must be asked.
   */
  cached(key: string): ClaimResult | undefined {
    const status = this.done?.get(key);
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
    this.done?.clear();
    await this.inner.close();
  }

  /** Remembers a settled key (here, or by a spool's accept) for `ttl` ms, at most the retention. */
  learn(key: string, status: number, ttl: number): void {
    if (this.done && ttl > 0) this.done.set(key, status, Math.min(ttl, this.retentionMs));
  }
}
