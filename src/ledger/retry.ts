// One retry wrapper around every ledger statement (shared/ledger.md §2.6).
//
// Each ledger operation is a single statement, so a retry simply runs it again on whatever pooled
// connection comes next; no transaction state survives between attempts. Errors fall in three kinds:
//   - transient, the statement surely did not apply (serialization failure, deadlock, connection
//     refused): run it again after a jittered backoff;
//   - ambiguous, the statement may or may not have applied (CockroachDB 40003 "result is ambiguous",
//     a connection cut after the statement was sent, a statement timeout): ask `resolve`, which reads
//     the row back and compares the owner token, whether our write landed; if it did not, run again;
//   - permanent (syntax, constraint, permission): throw at once.
// Past the time budget the caller gets GatewayError('ledger_unavailable') with Retry-After, which the
// gateway turns into 503 or, with `onError: allow`, into a forward that relies on the LRU only.
import { GatewayError } from '../errors.js';

export type ErrorKind = 'transient' | 'ambiguous' | 'permanent';

/** What a read-back found: our write is in effect (with its result), or it is not and may run again. */
export type Resolution<T> = { landed: true; value: T } | { landed: false };

export interface RetryPolicy {
  /** total time for one operation, retries and backoff included, before ledger_unavailable */
  budgetMs: number;
  /** first backoff cap; doubles each attempt up to `capMs` (full jitter: random(0, cap)) */
  baseMs: number;
  capMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { budgetMs: 2000, baseMs: 10, capMs: 250 };

// Socket-level failures that can only happen before a statement reached the server.
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
// Socket-level failures that can cut a statement in flight.
const CUT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

/**
 * Classifies a driver error. `wasWrite`: the statement changes state, so a connection lost after it
 * was sent leaves its outcome unknown. Reads are always safe to run again.
 */
export function classify(err: unknown, wasWrite: boolean): ErrorKind {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  const unknownOutcome: ErrorKind = wasWrite ? 'ambiguous' : 'transient';

  // SQLSTATE (PostgreSQL appendix A; CockroachDB transaction-retry-error-reference).
  if (code === '40001' || code === '40P01' || code === '55P03' || code === '53300') return 'transient';
  if (code === '57P03') return 'transient'; // cannot connect now: nothing was sent
  if (code === '40003') return wasWrite ? 'ambiguous' : 'transient';
  if (code === '57P01' || code === '57P02' || code === '57014') return unknownOutcome;
  if (code === '08001' || code === '08004') return 'transient'; // connection never established
  if (/^08[0-9A-Z]{3}$/.test(code)) return unknownOutcome;
  if (NOT_SENT_CODES.has(code)) return 'transient';
  if (CUT_CODES.has(code)) return unknownOutcome;

  // node-postgres and pg-pool raise these without a code.
  if (/timeout exceeded when trying to connect|Connection terminated due to connection timeout/i.test(message)) return 'transient';
  if (/Connection terminated|connection error|not queryable|Query read timeout|socket hang up/i.test(message)) return unknownOutcome;
  return 'permanent';
}

export interface RetryHooks {
  /** called for each failed attempt that will be retried or resolved */
  onRetry?(err: unknown, kind: ErrorKind, attempt: number): void;
  sleep?(ms: number): Promise<void>;
  random?(): number;
  now?(): number;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `run` until it succeeds, a permanent error occurs, or the budget is spent. An ambiguous error on
 * a write is settled by `resolve` (read the row back, compare the owner token) before deciding to run
 * again. Without `resolve`, an ambiguous statement must be safe to run twice.
 */
export async function withRetry<T>(
  what: string,
  run: () => Promise<T>,
  opts: { policy: RetryPolicy; write: boolean; resolve?: () => Promise<Resolution<T>> } & RetryHooks,
): Promise<T> {
  const { policy } = opts;
  const sleep = opts.sleep ?? realSleep;
  const random = opts.random ?? Math.random;
  const now = opts.now ?? Date.now;
  const deadline = now() + policy.budgetMs;
  let lastErr: unknown;
  let pendingResolve = false;

  for (let attempt = 1; ; attempt++) {
    try {
      if (pendingResolve && opts.resolve) {
        // A read is never ambiguous: its own errors are retried as transient.
        const r = await opts.resolve();
        pendingResolve = false;
        if (r.landed) return r.value;
      }
      return await run();
    } catch (err) {
      const kind = pendingResolve ? classify(err, false) : classify(err, opts.write);
      if (kind === 'permanent') throw err;
      if (kind === 'ambiguous') pendingResolve = true;
      lastErr = err;
      opts.onRetry?.(err, kind, attempt);
    }
    const cap = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt - 1, 20));
    const wait = Math.floor(random() * cap);
    if (now() + wait >= deadline) break;
    await sleep(wait);
  }
  throw unavailable(what, lastErr, policy);
}

/** The error the gateway answers 503 `ledger_unavailable` with; the driver error stays as `cause`. */
export function unavailable(what: string, cause: unknown, policy: RetryPolicy = DEFAULT_RETRY): GatewayError {
  // Retry-After: a provider retry sooner than a few seconds would likely meet the same outage.
  const retryAfterSeconds = Math.max(1, Math.ceil((policy.budgetMs * 2) / 1000));
  return new GatewayError('ledger_unavailable', `the idempotency ledger is unavailable (${what}); retry later`, retryAfterSeconds, { cause });
}
