// The embedded spool behind a worker thread (sqlite-worker.ts): every SpoolStore call is a message,
// answered once the worker's SQLite call is done (an accept: once committed and synced to disk). The
// gateway's event loop then never waits on the disk. If the worker stops, the calls waiting fail as
// ledger_unavailable (the provider retries; nothing answered 2xx is lost: it was on disk) and the
// next call starts a new worker on the same file.
import { Worker } from 'node:worker_threads';
import { GatewayError, errSummary, type ErrorCode } from '../../errors.js';
import { unavailable } from '../../ledger/retry.js';
import type { SpoolStore } from './types.js';

const METHODS = ['accept', 'due', 'claim', 'held', 'settle', 'pendingCounts', 'get', 'byId', 'list', 'page', 'replay', 'replayMany', 'cancel', 'pause', 'resume', 'stats', 'sweep', 'expire', 'ping'] as const;
type Method = (typeof METHODS)[number];

export interface SpoolCall { id: number; method: Method | 'close'; args: unknown[] }
type WireError = { message: string; code?: string; retryAfterSeconds?: number; cause?: ReturnType<typeof errSummary> };
export type SpoolReply = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: WireError };

/** An error as it crosses the thread boundary: code, message, Retry-After and the driver's cause; no stack. */
export function wireError(err: unknown): WireError {
  const e = err as { message?: string; code?: string; retryAfterSeconds?: number; cause?: unknown };
  return { message: String(e?.message ?? err), ...(e?.code ? { code: e.code } : {}), ...(e?.retryAfterSeconds ? { retryAfterSeconds: e.retryAfterSeconds } : {}), ...(e?.cause ? { cause: errSummary(e.cause) } : {}) };
}

function fromWire(e: WireError): Error {
  const cause = e.cause ? Object.assign(new Error(e.cause.message), e.cause.code ? { code: e.cause.code } : {}) : undefined;
  if (e.code === 'ledger_unavailable') return new GatewayError(e.code as ErrorCode, e.message, e.retryAfterSeconds, { cause });
  return Object.assign(new Error(e.message), e.code ? { code: e.code } : {}, cause ? { cause } : {});
}

/** Structured clone turns a Buffer into a plain Uint8Array: make it a Buffer again (same memory). */
export function toBuffers(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(toBuffers);
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toBuffers(x);
    return out;
  }
  return v;
}

type Pending = { resolve: (v: unknown) => void; reject: (err: unknown) => void; method: string };

export interface ThreadedSqliteSpool extends Omit<SpoolStore, 'backend' | 'close'> {}

export class ThreadedSqliteSpool {
  readonly backend = 'embedded' as const;
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private next = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(private readonly url: string, private readonly busyTimeoutMs: number) {}

  /** Starts the worker; rejects with its error (a bad path, an unmigrated file). */
  start(): Promise<void> {
    if (this.ready) return this.ready;
    const worker = new Worker(new URL('./sqlite-worker.js', import.meta.url), { workerData: { url: this.url, busyTimeoutMs: this.busyTimeoutMs } });
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => this.pending.set(0, { resolve: () => resolve(), reject, method: 'open' }));
    this.hold();
    worker.on('message', (r: SpoolReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      this.letGo();
      if (r.ok) p.resolve(toBuffers(r.value));
      else p.reject(fromWire(r.error));
    });
    const stopped = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.ready = null;
      const waiting = [...this.pending.values()];
      this.pending.clear();
      for (const p of waiting) p.reject(unavailable(`spool ${p.method}`, err));
    };
    worker.on('error', stopped);
    worker.on('exit', (code) => stopped(new Error(`the embedded spool's thread exited (code ${code})`)));
    return this.ready;
  }

  private call(method: Method, args: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(unavailable(`spool ${method}`, new Error('the spool is closed')));
    if (!this.worker) void this.start().catch(() => {});
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.hold();
      this.worker!.postMessage({ id, method, args } satisfies SpoolCall);
    });
  }

  // The worker holds the process open only while an answer is awaited (a CLI command must exit).
  private hold(): void {
    if (this.pending.size === 1) this.worker?.ref();
  }

  private letGo(): void {
    if (this.pending.size === 0) this.worker?.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const worker = this.worker;
    // what is queued is answered first: the worker handles messages in order
    if (worker) await this.call('ping', []).catch(() => {});
    this.closed = true;
    this.worker = null;
    await worker?.terminate();
  }
}

for (const m of METHODS) {
  (ThreadedSqliteSpool.prototype as unknown as Record<string, unknown>)[m] = function (this: ThreadedSqliteSpool, ...args: unknown[]) {
    return (this as unknown as { call(m: Method, a: unknown[]): Promise<unknown> }).call(m, args);
  };
}

/** Opens the embedded spool in its own thread; rejects as opening it in this thread would throw. */
export async function openThreadedSqliteSpool(url: string, busyTimeoutMs: number): Promise<SpoolStore> {
  const store = new ThreadedSqliteSpool(url, busyTimeoutMs);
  try {
    await store.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store as unknown as SpoolStore;
}
