// The embedded spool behind a worker thread: every SpoolStore call is a message, answered once the
// worker's SQLite call is done (an accept: once committed and synced to disk). The gateway's event
// loop then never waits on the disk. Where the embedded ledger already runs in a thread on the same
// file (`hookgate run`), the spool is served by that thread, on its connection (sqlite-serve.ts):
// two connections writing one file wait for each other in SQLite's busy handler, which sleeps.
// Otherwise (the `hookgate spool` command) it gets a worker of its own (sqlite-worker.ts). If the far
// side stops, the calls waiting fail as ledger_unavailable (the provider retries; nothing answered
// 2xx is lost: it was on disk) and the next call connects again. The calls of one turn of the event
// loop cross as one message, and their answers come back as one: a message costs both threads more
// than an accept's statements.
import { Worker, type MessagePort } from 'node:worker_threads';
import { GatewayError, errSummary, type ErrorCode } from '../../errors.js';
import { unavailable } from '../../ledger/retry.js';
import type { SpoolStore } from './types.js';

export const METHODS = ['accept', 'due', 'claim', 'held', 'settle', 'pendingCounts', 'get', 'byId', 'list', 'page', 'replay', 'replayMany', 'cancel', 'pause', 'resume', 'stats', 'sweep', 'expire', 'ping'] as const;
type Method = (typeof METHODS)[number];

export interface SpoolCall { id: number; method: Method; args: unknown[] }
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

/** The far side: a worker of the spool's own, or a port into the ledger's worker. */
export type Link = Worker | MessagePort;
/** Connects: resolves once the far side answers calls, rejects with its error (a bad path, …). */
export type Connect = () => Promise<Link>;

type Pending = { resolve: (v: unknown) => void; reject: (err: unknown) => void; method: string };

export interface ThreadedSqliteSpool extends Omit<SpoolStore, 'backend' | 'close'> {}

export class ThreadedSqliteSpool {
  readonly backend = 'embedded' as const;
  private link: Link | null = null;
  private connecting: Promise<Link> | null = null;
  private next = 1;
  private readonly pending = new Map<number, Pending>();
  private outbox: SpoolCall[] = [];
  private closed = false;

  constructor(private readonly connect: Connect) {}

  /** Connects (once at a time); rejects with the far side's error. */
  start(): Promise<Link> {
    if (this.link) return Promise.resolve(this.link);
    if (this.connecting) return this.connecting;
    const connecting = this.connect().then((link) => {
      this.connecting = null;
      if (this.closed) {
        void stop(link);
        throw new Error('the spool is closed');
      }
      this.attach(link);
      return link;
    }, (err: unknown) => {
      this.connecting = null;
      throw err;
    });
    this.connecting = connecting;
    return connecting;
  }

  private attach(link: Link): void {
    this.link = link;
    link.on('message', (replies: SpoolReply[]) => {
      for (const r of replies) {
        const p = this.pending.get(r.id);
        if (!p) continue;
        this.pending.delete(r.id);
        this.letGo();
        if (r.ok) p.resolve(toBuffers(r.value));
        else p.reject(fromWire(r.error));
      }
    });
    const stopped = (err: Error) => {
      if (this.link !== link) return;
      this.link = null;
      const waiting = [...this.pending.values()];
      this.pending.clear();
      for (const p of waiting) p.reject(unavailable(`spool ${p.method}`, err));
    };
    link.on('error', stopped);
    link.on('exit', (code: number) => stopped(new Error(`the embedded spool's thread exited (code ${code})`)));
    link.on('close', () => stopped(new Error('the embedded spool\'s thread closed its port')));
    if (this.pending.size) link.ref();
    else link.unref();
  }

  private call(method: Method, args: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(unavailable(`spool ${method}`, new Error('the spool is closed')));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.hold();
      const msg: SpoolCall = { id, method, args };
      if (this.link) {
        if (this.outbox.push(msg) === 1) setImmediate(() => this.flush());
      } else {
        this.start().then((link) => link.postMessage([msg]), (err: unknown) => {
          if (!this.pending.delete(id)) return;
          this.letGo();
          reject(unavailable(`spool ${method}`, err));
        });
      }
    });
  }

  /** The turn's calls as one message; if the far side stopped meanwhile, `stopped` has failed them. */
  private flush(): void {
    const out = this.outbox;
    this.outbox = [];
    this.link?.postMessage(out);
  }

  // The far side holds the process open only while an answer is awaited (a CLI command must exit).
  private hold(): void {
    if (this.pending.size === 1) this.link?.ref();
  }

  private letGo(): void {
    if (this.pending.size === 0) this.link?.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const link = this.link;
    // what is queued is answered first: the far side handles messages in order
    if (link) await this.call('ping', []).catch(() => {});
    this.closed = true;
    this.link = null;
    if (link) await stop(link);
  }
}

function stop(link: Link): Promise<unknown> {
  if (link instanceof Worker) return link.terminate();
  link.close();
  return Promise.resolve();
}

for (const m of METHODS) {
  (ThreadedSqliteSpool.prototype as unknown as Record<string, unknown>)[m] = function (this: ThreadedSqliteSpool, ...args: unknown[]) {
    return (this as unknown as { call(m: Method, a: unknown[]): Promise<unknown> }).call(m, args);
  };
}

/** A worker of the spool's own on `url`: resolves once its connection is open. */
export function ownWorker(url: string, busyTimeoutMs: number): Connect {
  return () => new Promise<Link>((resolve, reject) => {
    const worker = new Worker(new URL('./sqlite-worker.js', import.meta.url), { workerData: { url, busyTimeoutMs } });
    const failed = (err: Error) => {
      worker.off('message', opened);
      reject(err);
    };
    const opened = (r: SpoolReply) => {
      if (r.id !== 0) return;
      worker.off('message', opened).removeAllListeners('error').removeAllListeners('exit');
      if (r.ok) resolve(worker);
      else {
        void worker.terminate();
        reject(fromWire(r.error));
      }
    };
    worker.on('message', opened).once('error', failed).once('exit', (code) => failed(new Error(`the embedded spool's thread exited (code ${code})`)));
  });
}

/** Opens the embedded spool behind a thread; rejects as opening it in this thread would throw. */
export async function openThreadedSqliteSpool(connect: Connect): Promise<SpoolStore> {
  const store = new ThreadedSqliteSpool(connect);
  try {
    await store.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store as unknown as SpoolStore;
}
