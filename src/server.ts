// The running gateway: one traffic socket whose request handler can be swapped (config reload: the
// new routes take new deliveries, deliveries in flight finish on the app they started on), the admin
// listener, the ledger and the drain on SIGTERM.
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from './config/load.js';
import type { Ledger } from './ledger/types.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { buildApp, clientErrorHandler, MAX_HEADER_BYTES, type Gateway } from './app.js';
import { buildAdmin } from './admin.js';
import type { Limiters } from './pipeline.js';
import { sanitizeForwardedFor } from './config/trust-proxy.js';
import { cachedCheck, observedReadiness } from './observability/readiness.js';

/** How long /readyz reuses a ledger ping's answer. */
export const READY_CACHE_MS = 1_000;
import { openSpool, spooling, type Spool } from './spool/index.js';
import { registerSpoolAdmin } from './spool/admin.js';
import type { LimitStore } from './limits/store.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface StartOptions {
  logger: FastifyBaseLogger;
  ledger: Ledger | null;
  metrics?: Metrics;
  limiters?: Limiters;
  now?: () => number;
  /** key fetching for JWKS and certificate-URL routes; tests inject their own */
  fetcher?: import('./providers/remote.js').Fetcher;
  /** override config.listen / config.admin (tests listen on port 0) */
  listen?: { host: string; port: number };
  admin?: { host: string; port: number };
  /** the spool's idle poll period (default 1000 ms); tests shorten it */
  spoolPollMs?: number;
  /** counts for the spool's tenantRate (createLimiters().dispatch: limits.store) */
  spoolRate?: LimitStore;
  /** force the spool store's SQL dialect (tests run the CockroachDB one on PostgreSQL) */
  spoolDialect?: 'auto' | 'postgres' | 'cockroachdb';
}

export interface RunningGateway {
  readonly url: string;
  readonly adminUrl: string;
  readonly metrics: Metrics;
  readonly config: () => Config;
  /** the spool, when a route spools */
  readonly spool: Spool | null;
  /** swap in a new validated config for new deliveries */
  reload(config: Config): Promise<void>;
  /** SIGTERM: not ready, stop accepting, finish deliveries in flight (bounded), settle, close */
  drain(): Promise<void>;
}

/** A listener could not bind its address: what `hookgate run` prints as one line, without a stack. */
export class ListenError extends Error {
  constructor(readonly listener: 'traffic' | 'admin', readonly address: string, readonly reason: string, options?: { cause?: unknown }) {
    super(`cannot listen on ${address}: ${reason}`, options);
  }
}

const LISTEN_REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  ENOTFOUND: 'host name not found',
};

function listenError(listener: 'traffic' | 'admin', at: { host: string; port: number }, err: unknown): ListenError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const host = at.host.includes(':') ? `[${at.host}]` : at.host;
  return new ListenError(listener, `${host}:${at.port}`, LISTEN_REASONS[code] ?? (err as Error).message, { cause: err });
}

function url(server: Server): string {
  const a = server.address() as AddressInfo;
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

export async function startGateway(config: Config, opts: StartOptions): Promise<RunningGateway> {
  const { logger, ledger } = opts;
  const metrics = opts.metrics ?? createMetrics();
  let current: Gateway;
  let handler: Handler = () => undefined;
  let draining = false;
  // The spool lives for the process (like the ledger): a reload swaps routes, the dispatcher reads them.
  let cfgNow = config;
  const spool = spooling(config) && ledger
    ? await openSpool(() => cfgNow, { log: logger, registry: metrics.registry, ...(opts.spoolRate ? { rate: opts.spoolRate } : {}), ...(opts.spoolPollMs !== undefined ? { pollMs: opts.spoolPollMs } : {}), ...(opts.spoolDialect ? { dialect: opts.spoolDialect } : {}) })
    : null;

  // Fastify is given a server that never listens; the real socket routes to the current app's handler.
  const build = async (cfg: Config): Promise<{ gw: Gateway; handler: Handler }> => {
    let h: Handler | undefined;
    const gw = await buildApp(cfg, {
      logger, metrics, ledger, limiters: opts.limiters, now: opts.now, spool, ...(opts.fetcher ? { fetcher: opts.fetcher } : {}),
      serverFactory: (fastifyHandler) => {
        h = fastifyHandler;
        return createServer();
      },
    });
    await gw.traffic.ready();
    return { gw, handler: h! };
  };

  ({ gw: current, handler } = await build(config));
  // Requests in flight on the real socket: the drain waits for them to end.
  let active = 0;
  let onIdle: (() => void) | null = null;
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    active++;
    if (draining) res.setHeader('connection', 'close');
    // Before the limiter keys on request.ip and before the chain is passed to the upstream.
    sanitizeForwardedFor(req.headers);
    res.once('close', () => {
      if (--active === 0 && onIdle) onIdle();
    });
    handler(req, res);
  });
  server.on('clientError', clientErrorHandler(metrics));
  // Behind a load balancer keep-alive must outlive the balancer's idle timeout (60 s is common).
  server.keepAliveTimeout = 65_000;

  const ledgerReachable = cachedCheck(async () => {
    if (!ledger) return true;
    try {
      await ledger.ping();
      return true;
    } catch {
      return false;
    }
  }, READY_CACHE_MS);
  const admin = buildAdmin({
    logger,
    registry: metrics.registry,
    notReady: observedReadiness(async () => {
      if (draining) return 'draining';
      return (await ledgerReachable()) ? null : 'ledger unreachable';
    }, metrics),
  });
  if (spool) registerSpoolAdmin(admin, { spool, config: () => current.config });
  const adminAt = opts.admin ?? current.config.admin;
  const listenAt = opts.listen ?? config.listen;
  // A listener that cannot bind leaves nothing open behind it (the caller exits with one line).
  try {
    await admin.listen({ host: adminAt.host, port: adminAt.port }).catch((err) => {
      throw listenError('admin', adminAt, err);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(listenError('traffic', listenAt, err)));
      server.listen(listenAt.port, listenAt.host, () => resolve());
    });
  } catch (err) {
    await admin.close().catch(() => undefined);
    await current.close().catch(() => undefined);
    throw err;
  }
  const trafficUrl = url(server);
  const adminUrl = url(admin.server);

  // Old apps closing after a reload (their close waits for the deliveries they still carry).
  const closing = new Set<Promise<void>>();
  return {
    url: trafficUrl,
    adminUrl,
    metrics,
    spool,
    config: () => current.config,
    async reload(next) {
      const built = await build(next);
      opts.limiters?.reconfigure?.(next);
      const old = current;
      current = built.gw;
      cfgNow = next;
      handler = built.handler;
      // Deliveries that started on the old app finish on it; its close waits for them.
      const done: Promise<void> = old.close().catch(() => undefined).finally(() => closing.delete(done));
      closing.add(done);
    },
    async drain() {
      draining = true;
      const bound = current.config.upstream.timeoutMs + 1_000;
      server.close();
      server.closeIdleConnections();
      const idle = active === 0 ? Promise.resolve() : new Promise<void>((resolve) => (onIdle = resolve));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([idle, new Promise((r) => (timer = setTimeout(r, bound)))]);
      clearTimeout(timer);
      server.closeAllConnections();
      await Promise.all([current.close(), ...closing]).catch(() => undefined);
      // Deliveries the spool has in flight finish and settle (each bounded by upstream.timeout).
      if (spool) await spool.close().catch(() => undefined);
      if (ledger) await ledger.close().catch(() => undefined);
      await admin.close();
    },
  };
}
