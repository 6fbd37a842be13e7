// The chaos harness: a provider that sends signed deliveries and retries the way real providers do,
// an upstream "app" whose failures are scripted, and the accounting that compares what the app
// processed (per event id) with what the provider sent.
//
// The provider signs with the Standard Webhooks library (`Webhook#sign`), re-signing every attempt
// with the same webhook-id and a fresh timestamp, as Svix does. It retries a non-2xx answer, a
// refused or reset connection and its own timeout with exponential backoff and jitter, a bounded
// number of times; a 2xx ends the delivery; a 409 `in_flight` is retried after its Retry-After
// (scaled down for tests). Any other 4xx is final for a real provider: counted as `refused`, which
// every scenario asserts is zero.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { request } from 'undici';

export const CHAOS_LONG = process.env.HOOKGATE_CHAOS === 'long';
/** short (every `npm test`) or long (`HOOKGATE_CHAOS=long`, for docs/reliability.md) */
export const pick = <T>(short: T, long: T): T => (CHAOS_LONG ? long : short);

export const CHAOS_SECRET = 'whsec_' + Buffer.from('chaos-suite-secret-0123456789abc').toString('base64');
export const CHAOS_ENV = { CHAOS_SECRET };
export const CHAOS_ROUTE = { path: '/hooks', provider: 'standard', tenant: 'acme', secrets: ['env:CHAOS_SECRET'] };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// The upstream app
// ---------------------------------------------------------------------------------------------

/** What the app does with one request: process it (2xx), fail it (status), or hang (never answer). */
export type AppDecision = { kind: 'ok'; delayMs?: number } | { kind: 'fail'; status: number } | { kind: 'hang' };

export interface ChaosApp {
  readonly url: string;
  /** requests received, per event id (whatever the app then did) */
  readonly received: Map<string, number>;
  /** requests the app processed and answered 2xx, per event id: what "delivered" means */
  readonly processed: Map<string, number>;
  /** the ledger key the gateway forwarded with each event id (its hookgate-idempotency-key header) */
  readonly keys: Map<string, string>;
  /** requests received and not yet answered or dropped (what a gateway killed now could double) */
  readonly inFlight: number;
  /** the decision for each request (default: process it) */
  decide: (id: string) => AppDecision;
  /** stop listening and cut every connection (the port then refuses) */
  stop(): Promise<void>;
  /** listen again on the same port */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startChaosApp(opts: { hangMs?: number } = {}): Promise<ChaosApp> {
  const hangMs = opts.hangMs ?? 3_000;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let port = 0;
  let server: Server;
  const app: ChaosApp = {
    url: '',
    received: new Map(),
    processed: new Map(),
    keys: new Map(),
    inFlight: 0,
    decide: () => ({ kind: 'ok' }),
    async stop() {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
    async start() {
      server = make();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
      port = (server.address() as AddressInfo).port;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      await app.stop();
    },
  };
  const bump = (m: Map<string, number>, id: string) => m.set(id, (m.get(id) ?? 0) + 1);
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id'] ?? '');
      bump(app.received, id);
      const key = req.headers['hookgate-idempotency-key'];
      if (typeof key === 'string') app.keys.set(id, key);
      (app as { inFlight: number }).inFlight++;
      res.once('close', () => (app as { inFlight: number }).inFlight--);
      const d = app.decide(id);
      if (d.kind === 'hang') {
        // A stuck handler: no answer; the connection is dropped later, nothing was committed.
        const timer = setTimeout(() => (timers.delete(timer), res.destroy()), hangMs);
        timers.add(timer);
        return;
      }
      if (d.kind === 'fail') {
        res.statusCode = d.status;
        return void res.end('failed');
      }
      // The app commits its work, then answers; a gateway that dies meanwhile does not undo it.
      const commit = () => {
        bump(app.processed, id);
        res.statusCode = 200;
        res.end(`processed ${id}`);
      };
      if (!d.delayMs) return commit();
      const timer = setTimeout(() => (timers.delete(timer), commit()), d.delayMs);
      timers.add(timer);
    });
  };
  const make = () => {
    const s = createServer(handle);
    s.on('connection', (c) => {
      sockets.add(c);
      c.once('close', () => sockets.delete(c));
    });
    return s;
  };
  await app.start();
  (app as { url: string }).url = `http://127.0.0.1:${port}`;
  return app;
}

// ---------------------------------------------------------------------------------------------
// The provider
// ---------------------------------------------------------------------------------------------

export interface ProviderOptions {
  /** the gateways' traffic URLs, read at each attempt (a restarted replica may change its URL) */
  targets: () => string[];
  count: number;
  /** deliveries in flight at once */
  concurrency?: number;
  /** a fresh id prefix per run */
  prefix: string;
  path?: string;
  maxAttempts?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** the provider's own request timeout */
  requestTimeoutMs?: number;
  /** Retry-After is multiplied by this (tests do not wait whole seconds) */
  retryAfterScale?: number;
  /** pause between starting two deliveries (a steady rate) */
  spacingMs?: number;
  /** stop starting new deliveries once this holds (`count` is then an upper bound; `sent` is what started) */
  stopWhen?: () => boolean;
}

export interface DeliveryRecord {
  id: string;
  attempts: number;
  /** the final answer's status (0: connection error or timeout on the last attempt) */
  status: number;
  /** how each attempt ended: a status, `error` or `timeout` */
  trail: string[];
  startedAt: number;
  /** when the 2xx came back (undefined: never) */
  settledAt?: number;
  /** a 4xx other than 408/409/429: a real provider gives up at once */
  refused: boolean;
}

export interface ProviderRun {
  sent: string[];
  records: DeliveryRecord[];
}

function backoff(attempt: number, base: number, max: number): number {
  const exp = Math.min(max, base * 2 ** attempt);
  return exp / 2 + Math.random() * (exp / 2); // "equal jitter"
}

/** Observes every attempt: its latency (request sent to answer or failure) and how it ended. */
export type AttemptHook = (ms: number, outcome: string) => void;

export type DelivererOptions = Omit<ProviderOptions, 'count' | 'concurrency' | 'prefix' | 'spacingMs'> & { onAttempt?: AttemptHook };

/**
 * One delivery as a provider makes it: signed, sent, retried until a 2xx, a final 4xx or the last
 * attempt. `n` picks the body and the first target; the same (id, n) is the same event (a replay).
 */
export function deliverer(o: DelivererOptions): (id: string, n: number) => Promise<DeliveryRecord> {
  const wh = new Webhook(CHAOS_SECRET);
  const maxAttempts = o.maxAttempts ?? 60;
  const base = o.baseBackoffMs ?? 25;
  const maxBackoff = o.maxBackoffMs ?? 400;
  const timeout = o.requestTimeoutMs ?? 5_000;
  const scale = o.retryAfterScale ?? 0.1;
  const path = o.path ?? '/hooks';

  return async (id: string, n: number): Promise<DeliveryRecord> => {
    const rec: DeliveryRecord = { id, attempts: 0, status: 0, trail: [], startedAt: Date.now(), refused: false };
    const body = JSON.stringify({ type: 'invoice.paid', data: { id, n, pad: 'x'.repeat(64) } });
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const targets = o.targets();
      const url = targets[(n + attempt) % targets.length]!;
      const at = new Date();
      const headers = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': wh.sign(id, at, body) };
      rec.attempts++;
      let status = 0;
      let retryAfter: string | undefined;
      const sentAt = performance.now();
      try {
        const res = await request(`${url}${path}`, { method: 'POST', headers, body, headersTimeout: timeout, bodyTimeout: timeout });
        await res.body.dump();
        status = res.statusCode;
        retryAfter = res.headers['retry-after'] as string | undefined;
        rec.trail.push(String(status));
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        rec.trail.push(code.includes('TIMEOUT') ? 'timeout' : 'error');
      }
      o.onAttempt?.(performance.now() - sentAt, rec.trail[rec.trail.length - 1]!);
      rec.status = status;
      if (status >= 200 && status < 300) {
        rec.settledAt = Date.now();
        return rec;
      }
      if (status >= 400 && status < 500 && status !== 408 && status !== 409 && status !== 429) {
        rec.refused = true;
        return rec;
      }
      const ra = Number(retryAfter);
      await sleep(Number.isFinite(ra) && ra > 0 && (status === 409 || status === 429 || status === 503) ? Math.min(ra * 1000 * scale, 2_000) : backoff(attempt, base, maxBackoff));
    }
    return rec;
  };
}

export async function runProvider(o: ProviderOptions): Promise<ProviderRun> {
  const deliver = deliverer(o);
  const ids = Array.from({ length: o.count }, (_, i) => `${o.prefix}_${i}`);
  const records: DeliveryRecord[] = [];
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      if (o.spacingMs) await sleep(o.spacingMs);
      if (o.stopWhen?.() || next >= ids.length) break;
      const n = next++;
      records.push(await deliver(ids[n]!, n));
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 8, ids.length) }, worker));
  return { sent: ids.slice(0, next), records };
}

// ---------------------------------------------------------------------------------------------
// The accounting
// ---------------------------------------------------------------------------------------------

export interface Accounting {
  scenario: string;
  sent: number;
  /** processed by the app exactly once */
  once: number;
  /** processed more than once (the ids in `doubledIds`) */
  doubled: number;
  /** never processed by the app */
  lost: number;
  /** the provider got a final 4xx and gave up */
  refused: number;
  /** the provider ran out of attempts */
  exhausted: number;
  /** requests the app received in all (processed or not) */
  received: number;
  attempts: number;
  /** worst time from a delivery's first attempt to its 2xx, ms */
  worstLatencyMs: number;
  /** from the end of the fault to the first 2xx after it, ms (faults with an end) */
  recoveryMs?: number;
  doubledIds: string[];
  lostIds: string[];
}

export function account(scenario: string, run: ProviderRun, app: ChaosApp, faultEndedAt?: number): Accounting {
  let once = 0;
  const doubledIds: string[] = [];
  const lostIds: string[] = [];
  for (const id of run.sent) {
    const n = app.processed.get(id) ?? 0;
    if (n === 0) lostIds.push(id);
    else if (n === 1) once++;
    else doubledIds.push(id);
  }
  let received = 0;
  for (const id of run.sent) received += app.received.get(id) ?? 0;
  const settled = run.records.filter((r) => r.settledAt !== undefined);
  const after = faultEndedAt === undefined ? [] : settled.map((r) => r.settledAt!).filter((s) => s >= faultEndedAt).sort((a, b) => a - b);
  return {
    scenario,
    sent: run.sent.length,
    once,
    doubled: doubledIds.length,
    lost: lostIds.length,
    refused: run.records.filter((r) => r.refused).length,
    exhausted: run.records.filter((r) => r.settledAt === undefined && !r.refused).length,
    received,
    attempts: run.records.reduce((s, r) => s + r.attempts, 0),
    worstLatencyMs: Math.max(0, ...settled.map((r) => r.settledAt! - r.startedAt)),
    ...(after.length ? { recoveryMs: after[0]! - faultEndedAt! } : {}),
    doubledIds,
    lostIds,
  };
}

/** One JSON line per scenario on stderr (tap shows it; docs/reliability.md is built from these). */
export function report(a: Accounting): void {
  const { doubledIds, lostIds, ...rest } = a;
  process.stderr.write(`CHAOS ${JSON.stringify({ mode: CHAOS_LONG ? 'long' : 'short', ...rest, doubledIds: doubledIds.slice(0, 5), lostIds: lostIds.slice(0, 5) })}\n`);
}

/** A record's trail, for failure messages. */
export function trailOf(run: ProviderRun, id: string): string {
  const r = run.records.find((x) => x.id === id);
  return r ? `${id}: ${r.trail.join(' ')}` : `${id}: no record`;
}
