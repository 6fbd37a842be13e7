// The embedded ledger: SQLite through better-sqlite3, for one replica (single pod).
// `embedded:/path/ledger.db` keeps it on disk in WAL mode. `embedded` in memory is the Map engine
// (memory.ts) unless HOOKGATE_LEDGER_MEMORY=sqlite, which opens SQLite in memory here (lost on
// restart either way); the SQLite engine is also the oracle the Map engine's tests compare it to.
//
// Same states, fencing and expiry as the SQL ledger. SQLite is synchronous and has a single writer,
// so each batch of operations is one IMMEDIATE transaction: nothing can interleave with it, even
// another process or another connection on the same file. Time is the gateway's clock (there is no
// database clock to share: one replica).
//
// Two fronts share the engine (`SqliteStore`) and the group-commit queue (`BatchingLedger`):
// `EmbeddedLedger` runs SQLite in the calling thread; `ThreadedEmbeddedLedger` (embedded-thread.ts,
// what `hookgate run` uses) runs it in a worker thread, off the event loop that serves requests.
import type Database from 'better-sqlite3';
import type { ClaimResult, Ledger, LedgerOptions } from './types.js';
import { openMigratedSqlite } from './sqlite-connection.js';
import { unavailable } from './retry.js';
import { errSummary } from '../errors.js';
import { batchMode, checkStatus, embeddedPath, schedule, keyHash, newToken, validateOptions, type BatchMode, type LedgerLog } from './common.js';

export { embeddedPath };

/**
 * One ledger operation as data (it crosses to the worker thread as a structured clone).
 * The claim's fencing token is made by the caller, so a claim's answer never has to carry it back.
 */
export type Op =
  | { op: 'claim'; key: string; token: string }
  | { op: 'complete'; key: string; token: string; status: number }
  | { op: 'release'; key: string; token: string };

/** An operation's answer, or its error reduced to what survives a structured clone. */
export type Answer = { ok: true; value: ClaimResult | boolean } | { ok: false; error: ReturnType<typeof errSummary> };

/** The times a batch runs with: its clock and the ledger's lease and retention (ms). */
export interface BatchTimes {
  now: number;
  leaseMs: number;
  retentionMs: number;
}

interface Row { status: string; owner: string; attempt: number; lease_until: number; resp_status: number | null; expires_at: number }

/**
 * The takeover rule of every claim on the embedded file (the ledger's, and a spool accept that claims
 * its key, src/spool/store/sqlite-statements.ts), as the SQL ledger's (sql.ts): an expired, failed or
 * lease-expired row is taken over, with the status, lease and status code of the inserted row. "Now"
 * is read back as excluded.updated_at, so each value is bound once.
 */
export const TAKEOVER = `ON CONFLICT (key_hash) DO UPDATE SET
        status = excluded.status,
        owner = excluded.owner,
        attempt = CASE WHEN l.expires_at <= excluded.updated_at THEN 1 ELSE l.attempt + 1 END,
        lease_until = excluded.lease_until,
        resp_status = excluded.resp_status,
        created_at = CASE WHEN l.expires_at <= excluded.updated_at THEN excluded.updated_at ELSE l.created_at END,
        updated_at = excluded.updated_at,
        expires_at = excluded.expires_at
      WHERE l.expires_at <= excluded.updated_at OR l.status = 'failed' OR (l.status = 'processing' AND l.lease_until <= excluded.updated_at)`;

/** The synchronous engine: prepared statements over one connection. */
export class SqliteStore {
  private readonly s: ReturnType<SqliteStore['prepare']>;

  constructor(readonly db: Database.Database) {
    this.s = this.prepare();
  }

  private prepare() {
    const db = this.db;
    // Positional parameters (binding an array is cheaper than looking names up in an object, and this
    // runs on every delivery): key hash, owner token, lease_until, now, now, expires_at.
    const upsert = db.prepare(`
      INSERT INTO hookgate_ledger AS l (key_hash, status, owner, attempt, lease_until, resp_status, created_at, updated_at, expires_at)
      VALUES (?, 'processing', ?, 1, ?, NULL, ?, ?, ?)
      ${TAKEOVER}
      RETURNING attempt`);
    const lookup = db.prepare(`SELECT status, owner, attempt, lease_until, resp_status, expires_at FROM hookgate_ledger WHERE key_hash = ? AND expires_at > ?`);
    // complete: status, now, now, expires_at, key hash, token; release: now, now, key hash, token
    const complete = db.prepare(`UPDATE hookgate_ledger SET status = 'done', resp_status = ?, lease_until = ?, updated_at = ?, expires_at = ?
      WHERE key_hash = ? AND owner = ? AND status = 'processing'`);
    const release = db.prepare(`UPDATE hookgate_ledger SET status = 'failed', lease_until = ?, updated_at = ?
      WHERE key_hash = ? AND owner = ? AND status = 'processing'`);
    const sweep = db.prepare(`DELETE FROM hookgate_ledger WHERE key_hash IN (
      SELECT key_hash FROM hookgate_ledger WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`);

    const refused = db.transaction((hash: Buffer, token: string, t: BatchTimes): ClaimResult => {
      const won = upsert.get(hash, token, t.now + t.leaseMs, t.now, t.now, t.now + t.retentionMs) as { attempt: number } | undefined;
      if (won) return { state: 'claimed', token, attempt: Number(won.attempt) };
      // Inside the same transaction: the row that refused the claim is there and unexpired.
      const row = lookup.get(hash, t.now) as Row;
      if (row.status === 'done') return { state: 'done', status: Number(row.resp_status), expiresInMs: row.expires_at - t.now };
      return { state: 'in_flight', retryAfterMs: Math.max(1, row.lease_until - t.now) };
    });
    // One statement failing inside the batch (SQLITE_CONSTRAINT, …) is undone by SQLite alone and the
    // transaction goes on: only that operation fails. An error that ended the transaction (SQLITE_FULL,
    // IOERR, …: inTransaction is false afterwards) aborts the batch, which then runs operation by operation.
    const batch = db.transaction((ops: readonly Op[], t: BatchTimes) => ops.map((op): Answer => {
      try {
        return { ok: true, value: this.one(op, t) };
      } catch (err) {
        if (!db.inTransaction) throw err;
        return failed(err);
      }
    }));
    return { upsert, refused, complete, release, sweep, batch };
  }

  private one(op: Op, t: BatchTimes): ClaimResult | boolean {
    const hash = keyHash(op.key);
    switch (op.op) {
      case 'claim': {
        // Alone (or outside a batch) the upsert is one atomic statement: when it wins, no BEGIN/COMMIT
        // around it. A refused claim needs the row that refused it, read in the same transaction as
        // the upsert (the row may have changed in between, on another connection to the same file),
        // so it runs again in an IMMEDIATE transaction (nested in the batch's: a savepoint).
        const won = this.s.upsert.get(hash, op.token, t.now + t.leaseMs, t.now, t.now, t.now + t.retentionMs) as { attempt: number } | undefined;
        if (won) return { state: 'claimed', token: op.token, attempt: Number(won.attempt) };
        return this.db.inTransaction ? this.s.refused(hash, op.token, t) : this.s.refused.immediate(hash, op.token, t);
      }
      case 'complete':
        return this.s.complete.run(op.status, t.now, t.now, t.now + t.retentionMs, hash, op.token).changes === 1;
      case 'release':
        return this.s.release.run(t.now, t.now, hash, op.token).changes === 1;
      default:
        throw new Error(`unknown ledger operation ${String((op as { op: unknown }).op)}`);
    }
  }

  /**
   * Runs the operations in order, as one IMMEDIATE transaction when there are several. If the batch
   * as a whole fails (BEGIN or COMMIT busy past busy_timeout, an error that rolled the transaction
   * back), nothing of it applied: each operation then runs again alone, so an error only fails the
   * operation it belongs to. Never throws.
   */
  run(ops: readonly Op[], t: BatchTimes): Answer[] {
    if (ops.length > 1) {
      try {
        return this.s.batch.immediate(ops, t);
      } catch {
        // fall through: one by one
      }
    }
    return ops.map((op): Answer => {
      try {
        return { ok: true, value: this.one(op, t) };
      } catch (err) {
        return failed(err);
      }
    });
  }

  ping(): void {
    this.db.prepare('SELECT 1').get();
  }

  /** Deletes expired rows in batches (bounded per call); returns how many. Throws on SQLite errors. */
  sweep(now: number, batch = 1000, maxBatches = 20): number {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const n = this.s.sweep.run(now, batch).changes;
      total += n;
      if (n < batch) break;
    }
    return total;
  }

  close(): void {
    this.db.close();
  }
}

function failed(err: unknown): Answer {
  return { ok: false, error: errSummary(err) };
}

/** An error summarized on the other side of a thread (errSummary), as an Error again. */
export function errorFrom(e: { message: string; code?: string | undefined }): Error {
  return Object.assign(new Error(e.message), e.code ? { code: e.code } : {});
}

/** An operation waiting in the group-commit queue. */
interface Queued { op: Op; resolve: (v: never) => void; reject: (err: unknown) => void }

/**
 * The async front both embedded ledgers share. Group commit: operations issued in the same turn of
 * the event loop are queued and run together, in the order they were issued (so a duplicate claim
 * queued after the winner sees the winner's row: in flight). SQLite's code then runs once per batch
 * instead of between every other piece of request handling (less CPU-cache thrash), with one commit
 * (one WAL sync point) per batch on disk.
 */
export abstract class BatchingLedger implements Ledger {
  readonly backend = 'embedded' as const;
  protected closed = false;
  private queue: Queued[] = [];
  private scheduled = false;
  /** the last batch sent to the worker: close waits for it (batches are answered in order) */
  private lastAway: Promise<void> | undefined;
  private readonly flushQueue = () => this.flush();
  private readonly sweeper: NodeJS.Timeout | undefined;

  constructor(
    protected readonly opts: LedgerOptions,
    protected readonly log?: LedgerLog,
    /** the clock, in ms; tests may move it */
    protected readonly now: () => number = Date.now,
    private readonly batch: BatchMode = batchMode(),
  ) {
    const every = opts.sweepIntervalMs ?? 60_000;
    if (every > 0) {
      this.sweeper = setInterval(() => void this.sweep(), every);
      this.sweeper.unref();
    }
  }

  /** Runs a batch; answers in the order of `ops`, one for each. */
  protected abstract execute(ops: Op[], t: BatchTimes): Answer[] | Promise<Answer[]>;
  protected abstract sweepNow(now: number, batch: number, maxBatches: number): number | Promise<number>;
  protected abstract pingNow(): void | Promise<void>;
  protected abstract shutdown(): void | Promise<void>;

  claim(key: string): Promise<ClaimResult> {
    return this.enqueue<ClaimResult>({ op: 'claim', key, token: newToken() });
  }

  complete(key: string, token: string, status: number): Promise<boolean> {
    checkStatus(status);
    return this.enqueue<boolean>({ op: 'complete', key, token, status });
  }

  release(key: string, token: string): Promise<boolean> {
    return this.enqueue<boolean>({ op: 'release', key, token });
  }

  protected enqueue<T>(op: Op): Promise<T> {
    if (this.closed) return Promise.reject(unavailable(op.op, new Error('the ledger is closed')));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op, resolve: resolve as (v: never) => void, reject });
      if (this.batch === 'off') return void this.flush();
      if (!this.scheduled) {
        this.scheduled = true;
        schedule(this.batch, this.flushQueue);
      }
    });
  }

  /**
   * Hands the queue to `execute`; answers are handed out only after the batch committed. With the
   * worker thread, a batch goes as soon as its turn of the event loop ends, even while the previous
   * one is still away (measured: holding it back until the previous answer cost more than the bigger
   * batches saved); the worker runs them in order.
   */
  protected flush(): Promise<void> | undefined {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const times = { now: this.now(), leaseMs: this.opts.leaseMs, retentionMs: this.opts.retentionMs };
    let answers: Answer[] | Promise<Answer[]>;
    try {
      answers = this.execute(batch.map((q) => q.op), times);
    } catch (err) {
      for (const q of batch) q.reject(unavailable(q.op.op, err));
      return;
    }
    if (Array.isArray(answers)) return void settleAll(batch, answers);
    const away = answers.then((a) => settleAll(batch, a), (err) => {
      for (const q of batch) q.reject(unavailable(q.op.op, err));
    });
    this.lastAway = away;
    return away;
  }

  async ping(): Promise<void> {
    if (this.closed) throw unavailable('ping', new Error('the ledger is closed'));
    try {
      await this.pingNow();
    } catch (err) {
      throw unavailable('ping', err);
    }
  }

  /** Deletes expired rows in batches (bounded per call); returns how many. Failures are logged. */
  async sweep(batch = 1000, maxBatches = 20): Promise<number> {
    if (this.closed) return 0;
    try {
      return await this.sweepNow(this.now(), batch, maxBatches);
    } catch (err) {
      this.log?.warn({ err: errSummary(err) }, 'ledger: sweeping expired rows failed; will try again');
      return 0;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Operations issued before close are settled, not dropped (graceful shutdown settles deliveries).
    const pending = this.queue.length ? this.flush() : this.lastAway;
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    await pending;
    await this.shutdown();
  }
}

function settleAll(batch: Queued[], answers: Answer[]): void {
  for (let i = 0; i < batch.length; i++) {
    const q = batch[i]!;
    const a = answers[i];
    if (a?.ok) q.resolve(a.value as never);
    else q.reject(unavailable(q.op.op, errorFrom(a?.error ?? { message: 'no answer for this operation' })));
  }
}

/** SQLite in the calling thread (tests, `hookgate migrate`, and HOOKGATE_LEDGER_THREAD=off). */
export class EmbeddedLedger extends BatchingLedger {
  private readonly store: SqliteStore;

  constructor(db: Database.Database, opts: LedgerOptions, log?: LedgerLog, now?: () => number, batch?: BatchMode) {
    super(opts, log, now, batch);
    this.store = new SqliteStore(db);
  }

  protected execute(ops: Op[], t: BatchTimes): Answer[] {
    return this.store.run(ops, t);
  }

  protected sweepNow(now: number, batch: number, maxBatches: number): number {
    return this.store.sweep(now, batch, maxBatches);
  }

  protected pingNow(): void {
    this.store.ping();
  }

  protected shutdown(): void {
    this.store.close();
  }
}

export function openEmbeddedLedger(opts: LedgerOptions, log?: LedgerLog, now?: () => number, batch?: BatchMode): EmbeddedLedger {
  validateOptions(opts);
  return new EmbeddedLedger(openMigratedSqlite(opts), opts, log, now, batch);
}
