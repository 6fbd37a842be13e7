// Requests on no route. `upstream.unmatched: reject` answers 404 before the body is read;
// `forward` passes them to the upstream as a small pipeline of its own:
//
//   target and Host ........... onRequest  400 (fragment, absolute form, two Hosts, `..` above the root)
//   near miss of a route ...... onRequest  404 (a path a lenient router would take for a route's)
//   limit unverified traffic .. onRequest  429 (per client address, the routes' own limiter)
//   read the raw body ......... parser     413 past the top-level bodyLimit
//   forward ................... handler    502 / 504; the target byte for byte, headers as on routes
//
// The path sent is exactly the one checked: undici is handed the request target as received (a
// proxy library would resolve `/webhooks/./github` into `/webhooks/github` after the check).
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Config } from '../config/load.js';
import type { Metrics } from '../observability/metrics.js';
import type { Pool } from './upstream-pool.js';
import { answer } from './answer.js';
import { hangUpIfUnread } from './hang-up.js';
import { lenientMatcher, lenientPath } from './lenient-path.js';
import { targetProblem } from './request-target.js';
import { relay, upstreamHeaders } from './forward.js';
import { callUpstream } from './upstream-call.js';
import { trustFunction } from '../config/trust-proxy.js';
import { errSummary } from '../errors.js';

export interface UnmatchedDeps {
  config: Config;
  upstream: Pool;
  metrics: Metrics;
  /** the per-address limit of unverified traffic (src/limits), when configured */
  unverified?: onRequestHookHandler;
}

const NEAR_MISS = 'no route matches this path, and it is too close to a route\'s path to pass through unverified';

/** Registers the handling of requests on no route; call inside a plugin scope of its own. */
export function registerUnmatched(scope: FastifyInstance, deps: UnmatchedDeps): void {
  const { config } = deps;
  if (config.upstream.unmatched !== 'forward') {
    scope.addHook('onRequest', function noRoute(_request, reply) {
      hangUpIfUnread(reply);
      answer(reply, 'no_route');
    });
    scope.setNotFoundHandler((_request, reply) => answer(reply, 'no_route'));
    return;
  }

  const nearMiss = lenientMatcher(config.routes.flatMap((r) => (r.forwardTo === null ? [r.path] : [r.path, r.forwardTo])));
  scope.addHook('onRequest', function checkPassThrough(request, reply, done) {
    const url = request.url;
    let problem = targetProblem(url, request.raw.rawHeaders);
    const path = problem === null ? lenientPath(url) : null;
    if (path?.climbs) problem = 'the path climbs above the root with ..';
    if (problem !== null) {
      hangUpIfUnread(reply);
      return answer(reply, 'malformed', problem);
    }
    if (nearMiss(path!.segments)) {
      hangUpIfUnread(reply);
      return answer(reply, 'no_route', NEAR_MISS);
    }
    done();
  });
  if (deps.unverified) scope.addHook('onRequest', deps.unverified);
  scope.removeAllContentTypeParsers();
  // The limit is the instance's bodyLimit (app.ts: config.bodyLimit): Fastify gives the not-found
  // handler the server's limit, which wins over a parser's own.
  scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  scope.setNotFoundHandler(passThrough(deps));
}

function passThrough(deps: UnmatchedDeps): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  const { config, upstream, metrics } = deps;
  const base = config.upstream.url.pathname.replace(/\/$/, '');
  const timeout = config.upstream.timeoutMs;
  const trust = trustFunction(config.trustProxy);

  return async function passThrough(request, reply) {
    let body = Buffer.isBuffer(request.body) ? request.body : null;
    // Fastify reads bodies only for the methods it knows carry one; a GET or PROPFIND with a body
    // is the application's business, so it is read here under the same limit rather than dropped.
    if (request.body === undefined && declaresBody(request)) {
      body = await readBody(request, config.bodyLimit);
      if (body === null) {
        hangUpIfUnread(reply);
        return answer(reply, 'body_too_large');
      }
    }
    if (body && !body.length) body = null;
    const started = process.hrtime.bigint();
    metrics.inFlight.inc();
    let res;
    try {
      res = await callUpstream(upstream, {
        path: base + request.url,
        method: request.method as 'POST',
        headers: upstreamHeaders(request, trust, []),
        body,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      }, () => metrics.inFlight.dec());
    } catch (err) {
      const code = (err as { code?: string }).code;
      // undici refuses a path with bytes it will not send: the request's fault, not the upstream's.
      if (code === 'UND_ERR_INVALID_ARG') return answer(reply, 'malformed', 'the request cannot be passed on as it is');
      request.log.warn({ err: errSummary(err) }, 'upstream failed');
      return answer(reply, code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' ? 'upstream_timeout' : 'upstream_unavailable');
    }
    metrics.upstreamDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    return relay(reply, res);
  };
}

function declaresBody(request: FastifyRequest): boolean {
  const h = request.headers;
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}

/** The raw body, or null past `limit` (reading stops there). */
function readBody(request: FastifyRequest, limit: number): Promise<Buffer | null> {
  const req = request.raw;
  if (Number(request.headers['content-length']) > limit) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        return resolve(null);
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}
