// The embedded ledger with SQLite in a worker thread: what `hookgate run` uses for `embedded` and
// `embedded:PATH`. The gateway's thread keeps the group-commit queue (BatchingLedger) and sends each
// batch as one message; the worker runs it as one transaction and answers. SQLite's work (and, on
// disk, its WAL writes and checkpoints) then runs beside the event loop that serves requests instead
// of inside it: measured in docs/benchmarks.md.
import { MessageChannel, Worker, type MessagePort, type TransferListItem } from 'node:worker_threads';
import { resolve as resolvePath } from 'node:path';
import type { LedgerOptions } from './types.js';
import { BatchingLedger, errorFrom, type Answer, type BatchTimes, type Op } from './embedded.js';
import { embeddedPath, validateOptions, type BatchMode, type LedgerLog } from './common.js';
import type { errSummary } from '../errors.js';

export type WorkerInit = Pick<LedgerOptions, 'url' | 'migrate' | 'retryBudgetMs' | 'synchronous'>;

type Ask =
  | { t: 'batch'; ops: Op[]; times: BatchTimes }
  | { t: 'sweep'; now: number; batch: number; maxBatches: number }
  | { t: 'ping' }
  | { t: 'attach'; port: MessagePort; module: string }
  | { t: 'close' };

/** What the worker is sent: a request and the id its reply carries back. */
export type Request = Ask & { id: number };

export type Reply =
  | { id: number; ok: true; answers?: Answer[]; swept?: number }
  | { id: number; ok: false; error: ReturnType<typeof errSummary> };

type Pending = { resolve: (r: Reply & { ok: true }) => void; reject: (err: Error) => void };

/**
 * One worker and its SQLite connection. Requests are answered in order; if the worker stops
 * unexpectedly, everything pending fails (ledger_unavailable at the caller) and the next request
 * starts a new worker on the same URL (on disk nothing is lost; in memory the keys are, as on a
 * restart of the process, and a warning says so).
 */
export class LedgerThread {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private next = 1;
  private readonly pending = new Map<number, Pending>();
  private closing = false;
  private started = false;

  constructor(private readonly init: WorkerInit, private readonly log?: LedgerLog) {}

  /** Starts the worker; rejects with the worker's error (bad path, unmigrated file, …). */
  start(): Promise<void> {
    if (this.ready) return this.ready;
    const worker = new Worker(new URL('./embedded-worker.js', import.meta.url), { workerData: this.init });
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      this.pending.set(0, { resolve: () => { this.started = true; resolve(); }, reject });
      this.hold();
    });
    worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      this.letGo();
      if (r.ok) p.resolve(r);
      else p.reject(errorFrom(r.error));
    });
    worker.on('error', (err) => this.stopped(worker, err));
    worker.on('exit', (code) => this.stopped(worker, new Error(`the embedded ledger's thread exited (code ${code})`)));
    return this.ready;
  }

  private stopped(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.ready = null;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(err);
    if (!this.closing && this.started) {
      this.log?.warn({ err: { message: err.message } }, `ledger: the embedded ledger's thread stopped; a new one starts with the next operation${embeddedPath(this.init.url) ? '' : ' (in memory: the keys it held are forgotten)'}`);
    }
  }

  request(ask: Ask, transfer?: TransferListItem[]): Promise<Reply & { ok: true }> {
    if (this.closing && ask.t !== 'close') return Promise.reject(new Error('the ledger is closed'));
    if (!this.worker) void this.start().catch(() => {});
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.hold();
      this.worker!.postMessage({ ...ask, id } satisfies Request, transfer);
    });
  }

  /** A port on which this thread serves a cotenant of its connection: `module` exports its openCotenant (embedded-serve.ts). */
  async cotenantPort(module: string): Promise<MessagePort> {
    const { port1, port2 } = new MessageChannel();
    try {
      await this.request({ t: 'attach', port: port2, module }, [port2]);
    } catch (err) {
      port1.close();
      throw err;
    }
    return port1;
  }

  /**
   * The worker holds the process open only while an answer is awaited: an idle ledger that nobody
   * closed must not keep a finished process (a test, a CLI command) alive.
   */
  private hold(): void {
    if (this.pending.size === 1) this.worker?.ref();
  }

  private letGo(): void {
    if (this.pending.size === 0) this.worker?.unref();
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const at = threadKey(this.init.url);
    if (at && threads.get(at) === this) threads.delete(at);
    const worker = this.worker;
    if (!worker) return;
    try {
      await this.request({ t: 'close' });
    } catch {
      // already gone
    }
    await worker.terminate();
  }
}

/** The async front over a LedgerThread (shared by several fronts in tests, like replicas on one database). */
export class ThreadedEmbeddedLedger extends BatchingLedger {
  constructor(
    private readonly thread: LedgerThread,
    opts: LedgerOptions,
    log?: LedgerLog,
    now?: () => number,
    batch?: BatchMode,
    /** false: the thread is shared and closed by its owner */
    private readonly ownsThread = true,
  ) {
    super(opts, log, now, batch);
  }

  protected async execute(ops: Op[], times: BatchTimes): Promise<Answer[]> {
    const r = await this.thread.request({ t: 'batch', ops, times });
    return r.answers!;
  }

  protected async sweepNow(now: number, batch: number, maxBatches: number): Promise<number> {
    const r = await this.thread.request({ t: 'sweep', now, batch, maxBatches });
    return r.swept!;
  }

  protected async pingNow(): Promise<void> {
    await this.thread.request({ t: 'ping' });
  }

  protected async shutdown(): Promise<void> {
    if (this.ownsThread) await this.thread.close();
  }
}

/** The ledger threads of this process on a file, by absolute path: the spool on that file is served by them. */
const threads = new Map<string, LedgerThread>();
const threadKey = (url: string) => {
  const path = embeddedPath(url);
  return path ? resolvePath(path) : undefined;
};

/** The running ledger thread on `url`'s file in this process, if any. */
export function ledgerThreadOn(url: string): LedgerThread | undefined {
  const at = threadKey(url);
  return at ? threads.get(at) : undefined;
}

/** Opens the embedded ledger in its own thread; rejects as the in-thread open would throw. */
export async function openThreadedEmbeddedLedger(opts: LedgerOptions, log?: LedgerLog, now?: () => number, batch?: BatchMode): Promise<ThreadedEmbeddedLedger> {
  validateOptions(opts);
  const thread = new LedgerThread({ url: opts.url, migrate: opts.migrate, ...(opts.retryBudgetMs !== undefined ? { retryBudgetMs: opts.retryBudgetMs } : {}), ...(opts.synchronous ? { synchronous: opts.synchronous } : {}) }, log);
  await thread.start();
  const at = threadKey(opts.url);
  if (at) threads.set(at, thread);
  return new ThreadedEmbeddedLedger(thread, opts, log, now, batch);
}
