// buildApp: the traffic and admin Fastify instances for one configuration, not listening, no I/O at
// import. Only main.ts reads the environment, listens and handles signals.
import Fastify, { LogController, type FastifyInstance, type FastifyError, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';
import { lazyCompilers } from './lazy-compilers.js';
import type { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse, Server } from 'node:http';
import type { Config } from './config/load.js';
import type { Ledger } from './ledger/types.js';
import type { Metrics } from './observability/metrics.js';
import { CATALOGUE, GatewayError, errorBody, type ErrorCode } from './errors.js';
import { answer } from './stages/answer.js';
import { rawBodyParser } from './stages/raw-body.js';
import { createUpstream } from './stages/forward.js';
import { registerUnmatched } from './stages/passthrough.js';
import { hangUpIfUnread } from './stages/hang-up.js';
import { settle, type ClaimDeps } from './stages/claim.js';
import { registerRoute, type Limiters } from './pipeline.js';
import { fastifyTrustProxy } from './config/trust-proxy.js';
import { deliveryLog as deliveryLine } from './observability/delivery-log.js';
import { lazyChildLogger } from './observability/request-logger.js';
import { endDeliveryTrace, traceRoute, tracingActive } from './observability/tracing.js';
import './stages/context.js';
import type { Spool } from './spool/index.js';

export interface AppDeps {
  logger: FastifyBaseLogger;
  metrics: Metrics;
  ledger: Ledger | null;
  limiters?: Limiters;
  /** the clock verifiers use (ms); tests pass their own */
  now?: () => number;
  /** key fetching for JWKS and certificate-URL routes; tests inject their own */
  fetcher?: import('./providers/remote.js').Fetcher;
  /** the spool, when a route has delivery: spool */
  spool?: Spool | null;
  /** the server Fastify is given (server.ts routes a real socket to it) */
  serverFactory?: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;
}

export interface Gateway {
  traffic: FastifyInstance;
  config: Config;
  close(): Promise<void>;
}

export const MAX_HEADER_BYTES = 16 * 1024;

/**
 * Answers for errors Node's parser raises before Fastify sees a request (CONTRACT: 400, 431), counted
 * like any other refusal. A socket that is already gone (reset, closed) gets nothing.
 */
export function clientErrorHandler(metrics?: Metrics): (err: NodeJS.ErrnoException, socket: Socket) => void {
  return function clientError(err, socket) {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const code: ErrorCode = err.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'malformed';
    metrics?.requests.inc({ route: 'unmatched', provider: 'none', tenant: 'none', outcome: code });
    const body = errorBody(code);
    const { status } = CATALOGUE[code];
    socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nconnection: close\r\nhookgate-outcome: ${code}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  };
}

function errorCodeOf(err: FastifyError): ErrorCode {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'body_too_large';
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return 'malformed';
  }
  if (err.statusCode === 413) return 'body_too_large';
  if (err.statusCode === 400) return 'malformed';
  return 'internal_error';
}

export async function buildApp(config: Config, deps: AppDeps): Promise<Gateway> {
  const { metrics, logger } = deps;
  const traffic = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLogger,
    trustProxy: fastifyTrustProxy(config.trustProxy),
    // Each route sets its own; this one is what the pass-through of unmatched paths may read.
    bodyLimit: config.bodyLimit,
    exposeHeadRoutes: false,
    schemaController: lazyCompilers,
    forceCloseConnections: 'idle',
    return503OnClosing: false,
    requestIdHeader: false,
    http: { maxHeaderSize: MAX_HEADER_BYTES },
    clientErrorHandler: clientErrorHandler(metrics),
    // The router's own refusals (an undecodable path, an over-long parameter) answered like any other;
    // counted here, as in clientErrorHandler, since no route's hooks run for them.
    frameworkErrors: (err, _request, reply) => {
      hangUpIfUnread(reply);
      metrics.requests.inc({ route: 'unmatched', provider: 'none', tenant: 'none', outcome: 'malformed' });
      const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is longer than 256 characters' : err.code === 'FST_ERR_BAD_URL' ? 'the path has an invalid percent-encoding' : undefined;
      return answer(reply, 'malformed', message);
    },
    routerOptions: { ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, maxParamLength: 256 },
    ...(deps.serverFactory ? { serverFactory: deps.serverFactory } : {}),
  });
  const upstream = createUpstream(config);
  const claims: ClaimDeps | null = deps.ledger ? { ledger: deps.ledger, onError: config.ledger.onError, metrics, log: logger } : null;
  const knownTenant = (t: string | undefined) => (t === undefined ? 'none' : config.knownTenants.has(t) ? t : 'other');

  traffic.decorateRequest('hg', null);

  traffic.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof GatewayError) return answer(reply, err.code, err.message, err.retryAfterSeconds);
    const code = errorCodeOf(err);
    // 413 stops reading mid-body; so may a malformed length or media type.
    if (code !== 'internal_error') hangUpIfUnread(reply);
    if (code === 'internal_error') request.log.error({ err }, 'unexpected error');
    // Fastify's own messages for parse errors name no secret; internal errors say nothing more.
    return answer(reply, code, code === 'internal_error' ? undefined : CATALOGUE[code].message);
  });

  // request.hg is set by each route's first stage (src/stages/methods.ts); unmatched requests keep null.
  const deliveryLog = deliveryLine(logger);
  // A callback hook: an async one costs a promise and a microtask on every request, duplicates included.
  traffic.addHook('onResponse', (request, reply, done) => {
    const d = request.hg;
    // Safety net: a claim still held here was never settled (an error between claim and forward).
    if (d?.claim && claims) {
      settle(claims, d.key!, d.claim, null, config.upstream.completes, request.log, d.trace).then(() => delivered(request, reply, done));
      return;
    }
    delivered(request, reply, done);
  });
  function delivered(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    const d = request.hg;
    const outcome = d?.outcome ?? (reply.getHeader('hookgate-outcome') as string | undefined) ?? 'forwarded';
    const route = d?.route;
    const tenant = knownTenant(d?.tenant);
    metrics.requests.cell(route?.path ?? 'unmatched', route?.provider ?? 'none', tenant, outcome).inc();
    const seconds = d ? Number(process.hrtime.bigint() - d.startedAt) / 1e9 : reply.elapsedTime / 1000;
    metrics.requestDuration.cell(outcome).observe(seconds);
    deliveryLog({ reqId: request.id, route: route?.path ?? null, provider: route?.provider ?? null, tenant: d?.tenant ?? null, outcome, key: d?.key ?? null, attempt: d?.attempt ?? null, status: reply.statusCode, ms: Math.round(seconds * 1e6) / 1e3 });
    if (d?.trace) endDeliveryTrace(d, outcome, reply.statusCode);
    done();
  }

  await traffic.register(async (scope) => {
    rawBodyParser(scope);
    // Tracing (off unless OTEL_* turns it on) adds its hooks to each route as it is registered.
    if (tracingActive()) scope.addHook('onRoute', traceRoute);
    const now = deps.now ?? Date.now;
    for (const route of config.routes) registerRoute(scope, route, { config, metrics, upstream, claims, limiters: deps.limiters ?? {}, now, spool: deps.spool ?? null, ...(deps.fetcher ? { fetcher: deps.fetcher } : {}) });
  });

  // Requests on no route: 404, or pass-through (a scope of its own: its hooks and body limit are not the routes').
  await traffic.register(async (scope) => registerUnmatched(scope, { config, upstream, metrics, unverified: deps.limiters?.unverified }));

  return {
    traffic,
    config,
    async close() {
      await traffic.close();
      await upstream.close();
    },
  };
}
