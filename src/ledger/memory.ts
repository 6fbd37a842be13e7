// The in-memory `embedded` ledger as a table in JavaScript (issue 16): the SQLite engine's states, owner
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
import { checkStatus, validateOptions } from './common.js';
import { KeyTable } from './key-table.js';

/**
 * The Ledger over a KeyTable. Answers are computed at the call; the promise only carries them. A done
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
    readonly store: KeyTable = new KeyTable(),
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
    return Promise.resolve(this.store.claim(key, this.now(), this.opts.leaseMs, this.opts.retentionMs));
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
  return new MapLedger(opts, new KeyTable(), now);
}
