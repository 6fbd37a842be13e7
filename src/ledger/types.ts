/**
 * The idempotency ledger: one row a delivery key. Three operations, each one atomic statement
 * (CONTRACT.md, Idempotency). Every write after the claim is fenced by the claim's owner token, so a
 * replica that lost its claim (lease expired and taken over) cannot settle it.
 */
export type ClaimResult =
  /** the caller owns the key now: forward the delivery. `attempt` counts claims of this key, from 1. */
  | { state: 'claimed'; token: string; attempt: number }
  /** settled earlier: answer the first status, forward nothing */
  | { state: 'done'; status: number; /** how long the ledger still remembers the key (for the LRU's TTL) */ expiresInMs?: number }
  /** another claim holds a live lease */
  | { state: 'in_flight'; retryAfterMs: number };

export interface Ledger {
  /** which engine answered `SELECT version()` (or embedded) */
  readonly backend: 'embedded' | 'postgres' | 'cockroachdb';
  claim(key: string): Promise<ClaimResult>;
  /** what claim would answer for a done key held in memory (the hot LRU), without a promise; else undefined */
  cached?(key: string): ClaimResult | undefined;
  /** a key settled elsewhere (a spool's accept): remembered for duplicates like one settled here */
  learn?(key: string, status: number, ttlMs: number): void;
  /** marks the key done with the upstream's status; false when the token no longer owns it */
  complete(key: string, token: string, status: number): Promise<boolean>;
  /** marks the key failed so the provider's retry is forwarded; false when the token no longer owns it */
  release(key: string, token: string): Promise<boolean>;
  /** cheap reachability check for /readyz */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface LedgerOptions {
  /** `embedded`, `embedded:/path.db`, or `postgres://…` */
  url: string;
  retentionMs: number;
  leaseMs: number;
  /** entries of the hot LRU of done keys */
  cache: number;
  /** run migrations on open */
  migrate: boolean;
  /** time for one operation, retries included, before it fails with `ledger_unavailable` (default 2000) */
  retryBudgetMs?: number;
  /** PostgreSQL/CockroachDB schema that holds the ledger tables, created when missing (default: search_path) */
  schema?: string;
  /** connections in the pool (default 10) */
  poolSize?: number;
  /** server-side statement timeout and connect timeout (default 2000) */
  statementTimeoutMs?: number;
  /** how often expired rows are deleted on PostgreSQL and embedded (default 60000; 0 disables) */
  sweepIntervalMs?: number;
  /**
   * `auto` (default) tells PostgreSQL and CockroachDB apart by `SELECT version()`. Forcing
   * `cockroachdb` on a PostgreSQL server runs the CockroachDB runtime paths (migration lock row, no
   * sweeper) with the DDL the server understands; meant for tests.
   */
  dialect?: 'auto' | 'postgres' | 'cockroachdb';
  /**
   * Embedded on disk: `full` syncs the WAL at every commit (set when a route spools: its 2xx promises
   * the delivery is stored); `normal` (default) may lose the last commits on power loss.
   */
  synchronous?: 'normal' | 'full';
  /**
   * Embedded on disk: SQLite in a worker thread (default true). `hookgate run` asks for it only when
   * a route spools, whose embedded spool is served on that thread's connection (one writer on the
   * file); otherwise SQLite runs in the event loop, which measured cheaper (docs/benchmarks.md).
   */
  thread?: boolean;
}
