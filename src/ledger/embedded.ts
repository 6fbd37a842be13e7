// The embedded ledger: SQLite through better-sqlite3, for one replica (`npm start`, single pod).
// `embedded` keeps it in memory (lost on restart: duplicates are then remembered only as long as the
// process lives); `embedded:/path/ledger.db` keeps it on disk in WAL mode.
//
// Same states, fencing and expiry as the SQL ledger. SQLite is synchronous and has a single writer,
// so each operation is one IMMEDIATE transaction: nothing can interleave with it, even another
// process or another connection on the same file. Time is this process's clock (there is no
// database clock to share: one replica).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ClaimResult, Ledger, LedgerOptions } from './types.js';
import { migrateSqlite, LATEST_VERSION } from './migrations.js';
import { unavailable } from './retry.js';
import { batchMode, checkStatus, schedule, keyHash, newToken, validateOptions, type BatchMode, type LedgerLog } from './common.js';

/** `embedded` → in memory; `embedded:PATH` → that file. */
export function embeddedPath(url: string): string | undefined {
  if (url === 'embedded' || url === 'embedded:' || url === 'embedded::memory:') return undefined;
  if (!url.startsWith('embedded:')) throw new TypeError(`not an embedded ledger url: ${url}`);
  return url.slice('embedded:'.length);
}

export function openSqlite(url: string, busyTimeoutMs = 2000): Database.Database {
  const path = embeddedPath(url);
  if (path) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path ?? ':memory:');
  if (path) {
    // WAL: readers never block the writer. synchronous=NORMAL is the setting SQLite recommends with
    // WAL: no corruption on a crash, but the last commits may be lost on power loss (docs/ledger.md).
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  return db;
}

interface Row { status: string; owner: string; attempt: number; lease_until: number; resp_status: number | null; expires_at: number }

/** One operation waiting in the group-commit queue; `run` executes its statement(s) and returns the answer. */
interface Queued { what: string; run: (now: number) => unknown; resolve: (v: never) => void; reject: (err: unknown) => void }

export class EmbeddedLedger implements Ledger {
  readonly backend = 'embedded' as const;
  private readonly ops: ReturnType<EmbeddedLedger['prepare']>;
  private readonly sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  private queue: Queued[] = [];
  private scheduled = false;
  private readonly flushQueue = () => this.flush();

  constructor(
    private readonly db: Database.Database,
    private readonly opts: LedgerOptions,
    private readonly log?: LedgerLog,
    /** the clock, in ms; tests may move it */
    private readonly now: () => number = Date.now,
    private readonly batch: BatchMode = batchMode(),
  ) {
    this.ops = this.prepare();
    const every = opts.sweepIntervalMs ?? 60_000;
    if (every > 0) {
      this.sweeper = setInterval(() => this.sweep(), every);
      this.sweeper.unref();
    }
  }

  private prepare() {
    const db = this.db;
    // The WHERE of DO UPDATE is the takeover rule of the SQL ledger. Positional parameters (binding an array is cheaper than looking names up in an object, and this
    // runs on every delivery): key hash, owner token, lease_until, now, now, expires_at. The update
    // reads "now" back as excluded.updated_at, so each value is bound once.
    const upsert = db.prepare(`
      INSERT INTO hookgate_ledger AS l (key_hash, status, owner, attempt, lease_until, resp_status, created_at, updated_at, expires_at)
      VALUES (?, 'processing', ?, 1, ?, NULL, ?, ?, ?)
      ON CONFLICT (key_hash) DO UPDATE SET
        status = 'processing',
        owner = excluded.owner,
        attempt = CASE WHEN l.expires_at <= excluded.updated_at THEN 1 ELSE l.attempt + 1 END,
        lease_until = excluded.lease_until,
        resp_status = NULL,
        created_at = CASE WHEN l.expires_at <= excluded.updated_at THEN excluded.updated_at ELSE l.created_at END,
        updated_at = excluded.updated_at,
        expires_at = excluded.expires_at
      WHERE l.expires_at <= excluded.updated_at OR l.status = 'failed' OR (l.status = 'processing' AND l.lease_until <= excluded.updated_at)
      RETURNING attempt`);
    const lookup = db.prepare(`SELECT status, owner, attempt, lease_until, resp_status, expires_at FROM hookgate_ledger WHERE key_hash = ? AND expires_at > ?`);
    // complete: status, now, now, expires_at, key hash, token; release: now, now, key hash, token
    const complete = db.prepare(`UPDATE hookgate_ledger SET status = 'done', resp_status = ?, lease_until = ?, updated_at = ?, expires_at = ?
      WHERE key_hash = ? AND owner = ? AND status = 'processing'`);
    const release = db.prepare(`UPDATE hookgate_ledger SET status = 'failed', lease_until = ?, updated_at = ?
      WHERE key_hash = ? AND owner = ? AND status = 'processing'`);
    const sweep = db.prepare(`DELETE FROM hookgate_ledger WHERE key_hash IN (
      SELECT key_hash FROM hookgate_ledger WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`);

    const claim = db.transaction((hash: Buffer, token: string, now: number): ClaimResult => {
      const won = upsert.get(hash, token, now + this.opts.leaseMs, now, now, now + this.opts.retentionMs) as { attempt: number } | undefined;
      if (won) return { state: 'claimed', token, attempt: Number(won.attempt) };
      // Inside the same transaction: the row that refused the claim is there and unexpired.
      const row = lookup.get(hash, now) as Row;
      if (row.status === 'done') return { state: 'done', status: Number(row.resp_status), expiresInMs: row.expires_at - now };
      return { state: 'in_flight', retryAfterMs: Math.max(1, row.lease_until - now) };
    });
    // One statement failing inside the batch (SQLITE_CONSTRAINT, …) is undone by SQLite alone and the
    // transaction goes on: only that operation fails. An error that ended the transaction (SQLITE_FULL,
    // IOERR, …: inTransaction is false afterwards) aborts the batch, which then runs operation by operation.
    const batch = db.transaction((ops: Queued[], now: number) => ops.map((op) => {
      try {
        return { ok: true as const, value: op.run(now) };
      } catch (err) {
        if (!db.inTransaction) throw err;
        return { ok: false as const, err };
      }
    }));
    return { claim, upsert, complete, release, sweep, batch };
  }

  claim(key: string): Promise<ClaimResult> {
    const hash = keyHash(key);
    const token = newToken();
    return this.enqueue<ClaimResult>('claim', (now) => {
      // Alone (or outside a batch) the upsert is one atomic statement: when it wins, no BEGIN/COMMIT
      // around it. A refused claim needs the row that refused it, read in the same transaction as the
      // upsert (the row may have changed in between, on another connection to the same file), so it
      // runs again in an IMMEDIATE transaction (nested in the batch's: a savepoint).
      const won = this.ops.upsert.get(hash, token, now + this.opts.leaseMs, now, now, now + this.opts.retentionMs) as { attempt: number } | undefined;
      if (won) return { state: 'claimed', token, attempt: Number(won.attempt) };
      return this.db.inTransaction ? this.ops.claim(hash, token, now) : this.ops.claim.immediate(hash, token, now);
    });
  }

  complete(key: string, token: string, status: number): Promise<boolean> {
    checkStatus(status);
    const hash = keyHash(key);
    return this.enqueue<boolean>('complete', (now) =>
      this.ops.complete.run(status, now, now, now + this.opts.retentionMs, hash, token).changes === 1);
  }

  release(key: string, token: string): Promise<boolean> {
    const hash = keyHash(key);
    return this.enqueue<boolean>('release', (now) => this.ops.release.run(now, now, hash, token).changes === 1);
  }

  /**
   * Group commit: operations issued in the same turn of the event loop are queued and run together
   * in one IMMEDIATE transaction, each still its own statement(s), in the order they were issued (so
   * a duplicate claim queued after the winner sees the winner's row: in flight). SQLite's code then
   * runs once per batch instead of between every other piece of request handling: less CPU-cache
   * thrash, and one commit (one WAL sync point) per batch on disk.
   */
  private enqueue<T>(what: string, run: (now: number) => T): Promise<T> {
    if (this.closed) return Promise.reject(unavailable(what, new Error('the ledger is closed')));
    if (this.batch === 'off') {
      try {
        return Promise.resolve(this.guard(what, () => run(this.now())));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ what, run, resolve: resolve as (v: never) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        schedule(this.batch, this.flushQueue);
      }
    });
  }

  /**
   * Runs the queue. Answers are handed out only after the batch committed. If the batch as a whole
   * fails (BEGIN or COMMIT busy past busy_timeout, an error that rolled the transaction back), nothing
   * of it applied: each operation then runs again alone, in its own transaction, so an error only
   * fails the operation it belongs to.
   */
  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    if (this.closed) {
      for (const op of batch) op.reject(unavailable(op.what, new Error('the ledger is closed')));
      return;
    }
    if (batch.length === 1) return this.runAlone(batch[0]!);
    let answers: Array<{ ok: true; value: unknown } | { ok: false; err: unknown }>;
    try {
      answers = this.ops.batch.immediate(batch, this.now());
    } catch {
      for (const op of batch) this.runAlone(op);
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const a = answers[i]!;
      if (a.ok) batch[i]!.resolve(a.value as never);
      else batch[i]!.reject(a.err instanceof TypeError || a.err instanceof RangeError ? a.err : unavailable(batch[i]!.what, a.err));
    }
  }

  private runAlone(op: Queued): void {
    try {
      op.resolve(this.guard(op.what, () => op.run(this.now())) as never);
    } catch (err) {
      op.reject(err);
    }
  }

  async ping(): Promise<void> {
    this.guard('ping', () => this.db.prepare('SELECT 1').get());
  }

  /** Deletes expired rows in batches (bounded per call); returns how many. */
  sweep(batch = 1000, maxBatches = 20): number {
    if (this.closed) return 0;
    let total = 0;
    try {
      for (let i = 0; i < maxBatches; i++) {
        const n = this.ops.sweep.run(this.now(), batch).changes;
        total += n;
        if (n < batch) break;
      }
    } catch (err) {
      this.log?.warn({ err: { message: (err as Error).message, code: (err as { code?: string }).code } }, 'ledger: sweeping expired rows failed; will try again');
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Operations issued before close are settled, not dropped (graceful shutdown settles deliveries).
    if (this.queue.length) this.flush();
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.db.close();
  }

  // SQLite errors (SQLITE_BUSY past busy_timeout, disk full, I/O) become ledger_unavailable, like a
  // database that cannot be reached; the gateway then applies onError.
  private guard<T>(what: string, fn: () => T): T {
    if (this.closed) throw unavailable(what, new Error('the ledger is closed'));
    try {
      return fn();
    } catch (err) {
      if (err instanceof TypeError || err instanceof RangeError) throw err;
      throw unavailable(what, err);
    }
  }
}

export function openEmbeddedLedger(opts: LedgerOptions, log?: LedgerLog, now?: () => number, batch?: BatchMode): EmbeddedLedger {
  validateOptions(opts);
  const db = openSqlite(opts.url, opts.retryBudgetMs ?? 2000);
  try {
    // An in-memory ledger has nothing to keep: it always starts at the latest schema.
    if (opts.migrate || !embeddedPath(opts.url)) migrateSqlite(db);
    else {
      const v = (db.prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'hookgate_schema_version'`).get() as { n: number }).n
        ? Number((db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM hookgate_schema_version').get() as { v: number }).v)
        : 0;
      if (v < LATEST_VERSION) throw new Error(`the ledger schema is at version ${v}, this hookgate needs ${LATEST_VERSION}: run \`hookgate migrate\` or set ledger.migrate: true`);
    }
    return new EmbeddedLedger(db, opts, log, now, batch);
  } catch (err) {
    db.close();
    throw err;
  }
}
