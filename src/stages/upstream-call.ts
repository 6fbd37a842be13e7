// Every call to the upstream (the forward, a hybrid route's try, the pass-through, the spool's
// dispatcher) through undici's dispatcher, without its request API's response stream. An answer to a
// webhook is small and has usually all arrived by the time the claim is settled (the answer waits for
// that): it is then sent on as one buffer. Only an answer still arriving gets a stream, fed from the
// socket with undici's own backpressure (pause and resume). undici's request() made a Readable, an
// async resource and a pipe for every answer (docs/benchmarks.md).
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Pool } from './upstream-pool.js';

const require = createRequire(import.meta.url);
// The same parser undici's request() uses, so the headers relayed are exactly what they were.
const { parseHeaders } = require('undici/lib/core/util.js') as { parseHeaders(raw: Buffer[]): Record<string, string | string[]> };
const { RequestAbortedError } = require('undici/lib/core/errors.js') as { RequestAbortedError: new () => Error };

/** Bytes of an answer held before the socket is paused, when nobody reads it yet. */
const HOLD_BYTES = 64 * 1024;

export interface UpstreamAnswer {
  statusCode: number;
  headers: Record<string, string | string[]>;
  /**
   * The answer's body, asked for once: the whole of it when it has all arrived (an empty one as
   * null), else a stream of it that ends with it (or fails as it fails).
   */
  body(): Buffer | Readable | null;
}

export type UpstreamOptions = Pick<Dispatcher.DispatchOptions, 'path' | 'method' | 'headers' | 'body' | 'headersTimeout' | 'bodyTimeout'>;

/**
 * Sends one request. Resolves with the answer's status and headers once they arrive; rejects with
 * undici's error when none comes (refused, reset, timed out). `done` is called once, when the answer
 * has ended or failed or its reader went away.
 */
export function callUpstream(pool: Pool, options: UpstreamOptions, done: () => void = () => undefined): Promise<UpstreamAnswer> {
  return new Promise((resolve, reject) => {
    pool.dispatch(options as Dispatcher.DispatchOptions, new AnswerHandler(resolve, reject, done) as unknown as Dispatcher.DispatchHandler);
  });
}

// undici's handler interface (onConnect, onHeaders, onData, onComplete, onError), as its request() implements it.
class AnswerHandler implements UpstreamAnswer {
  statusCode = 0;
  headers: Record<string, string | string[]> = {};
  private abort: ((err?: Error) => void) | null = null;
  private resume: (() => void) | null = null;
  private chunks: Buffer[] = [];
  private held = 0;
  private ended = false;
  private failed: Error | null = null;
  private stream: Readable | null = null;
  private over = false;

  constructor(
    private readonly resolve: (a: UpstreamAnswer) => void,
    private readonly reject: (err: Error) => void,
    private readonly done: () => void,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx (100 Continue, 103 Early Hints): not the answer
    if (statusCode < 200) return true;
    this.statusCode = statusCode;
    this.headers = parseHeaders(rawHeaders);
    this.resume = resume;
    this.resolve(this);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.stream) return this.stream.push(chunk);
    this.chunks.push(chunk);
    this.held += chunk.length;
    return this.held < HOLD_BYTES;
  }

  onComplete(): void {
    this.ended = true;
    if (this.stream) this.stream.push(null);
    this.finish();
  }

  onError(err: Error): void {
    if (this.statusCode === 0) {
      this.finish();
      this.reject(err);
      return;
    }
    this.failed = err;
    this.chunks = [];
    if (this.stream) this.stream.destroy(err);
    this.finish();
  }

  body(): Buffer | Readable | null {
    if (this.ended) {
      const chunks = this.chunks;
      this.chunks = [];
      return chunks.length === 0 ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.held);
    }
    const stream = new Readable({
      read: () => this.resume?.(),
      destroy: (err, cb) => {
        // the reader went away before the answer ended: stop reading it from the upstream
        if (!this.ended && !this.failed) this.abort?.(err ?? new RequestAbortedError());
        this.finish();
        cb(err);
      },
    });
    this.stream = stream;
    if (this.failed) {
      stream.destroy(this.failed);
      return stream;
    }
    for (const c of this.chunks) stream.push(c);
    this.chunks = [];
    return stream;
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.done();
  }
}

/** Past this many bytes an answer nobody reads is cut off rather than read (undici's dump() default). */
const DISCARD_LIMIT = 128 * 1024;

/**
 * What undici's `dump()` does for request(): the rest of an answer nobody needs is read and dropped,
 * so its connection goes back to the pool; a longer one is cut off (its connection closed). Resolves
 * when the answer is over, never rejects.
 */
export function discard(answer: UpstreamAnswer): Promise<void> {
  const body = answer.body();
  if (body === null || Buffer.isBuffer(body)) return Promise.resolve();
  return new Promise((resolve) => {
    let read = 0;
    body.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (read > DISCARD_LIMIT) body.destroy();
    });
    body.on('error', () => undefined);
    body.on('close', () => resolve());
  });
}
