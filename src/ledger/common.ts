// Pieces shared by the SQL and embedded ledgers.
import * as crypto from 'node:crypto';
import { randomUUID } from 'node:crypto';
import type { LedgerOptions } from './types.js';

// One-shot hashing where this Node has it (20.12+): no Hash object a call. The digest comes out as a
// Latin-1 string of its bytes (Node names it 'binary'), which costs less to make than a Buffer.
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/** sha256 of the key's UTF-8 bytes, as a Latin-1 string of the digest's 32 bytes. */
export function sha256Binary(key: string): string {
  return oneShot ? oneShot('sha256', key, 'binary') : crypto.createHash('sha256').update(key, 'utf8').digest('binary');
}

/**
 * Rows are keyed by sha256 of the delivery key: fixed size, and uniform, so CockroachDB spreads the
 * inserts over ranges instead of piling time-ordered provider ids onto one (shared/ledger.md §3.2).
 */
export function keyHash(key: string): Buffer {
  return Buffer.from(sha256Binary(key), 'binary');
}

/** `embedded` → in memory; `embedded:PATH` → that file. */
export function embeddedPath(url: string): string | undefined {
  if (url === 'embedded' || url === 'embedded:' || url === 'embedded::memory:') return undefined;
  if (!url.startsWith('embedded:')) throw new TypeError(`not an embedded ledger url: ${url}`);
  return url.slice('embedded:'.length);
}

/** A fresh fencing token for one claim attempt. */
export const newToken = (): string => randomUUID();

export interface LedgerLog {
  warn(obj: object, msg: string): void;
}

export function validateOptions(opts: LedgerOptions): void {
  const positive = (name: string, v: unknown) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new TypeError(`ledger.${name}: expected a positive number of milliseconds, got ${String(v)}`);
  };
  positive('retentionMs', opts.retentionMs);
  positive('leaseMs', opts.leaseMs);
  if (opts.leaseMs >= opts.retentionMs) throw new TypeError(`ledger.lease (${opts.leaseMs} ms) must be shorter than ledger.retention (${opts.retentionMs} ms)`);
  if (!Number.isInteger(opts.cache) || opts.cache < 0) throw new TypeError(`ledger.cache: expected a whole number >= 0, got ${String(opts.cache)}`);
}

export function checkStatus(status: number): void {
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new TypeError(`complete: expected an HTTP status, got ${String(status)}`);
}

/**
 * When queued operations are run (group commit, docs/ledger.md). `immediate` (default): the
 * operations issued in one turn of the event loop (all requests read in one poll phase) run together
 * in the check phase; `microtask`: only those issued before the microtask queue drains;
 * `off`: each operation alone, at once. Read once; a switch for benchmarks.
 */
export type BatchMode = 'immediate' | 'microtask' | 'off';
export function batchMode(v = process.env.HOOKGATE_LEDGER_BATCH): BatchMode {
  return v === 'off' || v === 'microtask' ? v : 'immediate';
}

/** Schedules `fn` for a batch mode other than `off`. */
export function schedule(mode: BatchMode, fn: () => void): void {
  if (mode === 'microtask') queueMicrotask(fn);
  else setImmediate(fn);
}
