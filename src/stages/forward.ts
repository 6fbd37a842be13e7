// Stages 7 and 8: forward the exact bytes to the upstream with undici, then settle the claim from the
// upstream's status before answering, so a provider's immediate retry already sees the settled key.
import { Pool } from './upstream-pool.js';
import { Readable } from 'node:stream';
import { callUpstream, type UpstreamAnswer } from './upstream-call.js';
import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { Config, Route } from '../config/load.js';
import type { Metrics } from '../observability/metrics.js';
import type { ClaimDeps } from './claim.js';
import { settle } from './claim.js';
import { errSummary } from '../errors.js';
import { answer } from './answer.js';
import { trustFunction, trustedChain, type TrustFn } from '../config/trust-proxy.js';
import { upstreamTarget } from './request-target.js';
import { childSpan, traceHeaders } from '../observability/tracing.js';

/** RFC 9110 §7.6.1 hop-by-hop fields, plus what undici computes itself (length) or refuses (expect). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'expect', 'proxy-authorization']);
const RESPONSE_DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export function createUpstream(config: Config): Pool {
  return new Pool(config.upstream.url.origin, { keepAliveTimeout: 4_000, connect: { timeout: Math.min(config.upstream.timeoutMs, 10_000) } });
}

/** Original headers in their order and case, minus hop-by-hop and any `hookgate-*`, plus ours. */
/** `replaceTrace`: the caller's traceparent and tracestate are dropped (tracing is on and `ours` carries hookgate's). */
export function upstreamHeaders(request: FastifyRequest, trust: TrustFn, ours: string[], replaceTrace = false): string[] {
  const raw = request.raw.rawHeaders;
  // Only a Connection header that names more than keep-alive/close needs a set (rare; none per request otherwise).
  let connectionNamed: Set<string> | null = null;
  const conn = request.headers.connection;
  if (conn && conn !== 'keep-alive' && conn !== 'close') {
    connectionNamed = new Set<string>();
    for (const n of String(conn).split(',')) connectionNamed.add(n.trim().toLowerCase());
  }
  const out: string[] = [];
  let xfp: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || connectionNamed?.has(lower) || lower.startsWith('hookgate-')) continue;
    if (replaceTrace && (lower === 'traceparent' || lower === 'tracestate')) continue;
    if (lower === 'x-forwarded-proto') { xfp ??= raw[i + 1]; continue; }
    // The caller's own claims about where it came from: replaced below (RFC 7239's Forwarded is
    // dropped rather than rewritten; x-forwarded-* carry what hookgate vouches for).
    if (lower === 'x-forwarded-for' || lower === 'x-forwarded-host' || lower === 'forwarded') continue;
    out.push(name, raw[i + 1]!);
  }
  const peer = request.socket.remoteAddress ?? '';
  // The chain from the address the limiter counted (request.ip) to the peer: entries left of it are
  // the caller's claims, not facts, and are dropped (all of them without trustProxy, or when the peer
  // is not a trusted proxy), so the left-most address the upstream sees is the one hookgate used.
  out.push('x-forwarded-for', peer ? trustedChain(request.raw, trust).join(', ') : '');
  out.push('x-forwarded-proto', xfp && peer && trust(peer, 0) ? xfp : 'http');
  if (request.headers.host) out.push('x-forwarded-host', request.headers.host);
  out.push(...ours);
  return out;
}

export interface ForwardDeps {
  config: Config;
  upstream: Pool;
  metrics: Metrics;
  claims: ClaimDeps | null;
}

export function forwardDelivery(route: Route, deps: ForwardDeps): RouteHandlerMethod {
  const { config, upstream, metrics } = deps;
  const timeout = config.upstream.timeoutMs;
  const completes = config.upstream.completes;
  const monitor = config.mode === 'monitor';
  const trust = trustFunction(config.trustProxy);
  const target = upstreamTarget(config.upstream.url, route);

  return async function forward(request: FastifyRequest, reply: FastifyReply) {
    const d = request.hg!;
    const path = target(request.params as Record<string, string>, request.url);
    const ours = ['hookgate-provider', route.provider, 'hookgate-attempt', String(d.claim?.attempt ?? 1)];
    if (d.tenant !== undefined) ours.push('hookgate-tenant', d.tenant);
    if (d.key !== undefined) ours.push('hookgate-idempotency-key', d.key);
    if (d.handshake !== undefined) ours.push('hookgate-handshake', d.handshake);
    const body = Buffer.isBuffer(request.body) ? request.body : null;
    const trace = d.trace;
    if (trace) ours.push(...traceHeaders(trace));
    const span = trace && childSpan(trace, 'hookgate.forward');

    const started = process.hrtime.bigint();
    metrics.inFlight.inc();
    let res: UpstreamAnswer;
    try {
      res = await callUpstream(upstream, {
        path,
        method: request.method as 'POST',
        headers: upstreamHeaders(request, trust, ours, trace !== undefined),
        body: body && body.length ? body : request.method === 'GET' || request.method === 'HEAD' ? null : body,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      }, () => metrics.inFlight.dec());
    } catch (err) {
      const code = (err as { code?: string }).code;
      const timedOut = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
      request.log.warn({ err: errSummary(err) }, 'upstream failed');
      span?.setAttribute('hookgate.outcome', timedOut ? 'upstream_timeout' : 'upstream_unavailable');
      span?.end();
      if (d.claim && deps.claims) await settle(deps.claims, d.key!, d.claim, null, completes, request.log, trace);
      d.claim = undefined;
      return answer(reply, timedOut ? 'upstream_timeout' : 'upstream_unavailable');
    }
    metrics.upstreamDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    if (span) {
      span.setAttribute('http.response.status_code', res.statusCode);
      span.end();
    }
    if (d.claim && deps.claims) await settle(deps.claims, d.key!, d.claim, res.statusCode, completes, request.log, trace);
    d.claim = undefined;
    d.outcome = 'forwarded';

    if (monitor) reply.header('hookgate-verdict', d.verdict ?? 'ok');
    return relay(reply, res);
  };
}

/** The upstream's answer, unchanged but for hop-by-hop fields and any `hookgate-*` it set. */
export function relay(reply: FastifyReply, res: UpstreamAnswer): FastifyReply {
  reply.code(res.statusCode);
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined || RESPONSE_DROP.has(name) || name.startsWith('hookgate-')) continue;
    reply.header(name, value);
  }
  reply.header('hookgate-outcome', 'forwarded');
  const body = res.body();
  if (body === null) return reply.send();
  // Fastify would name a buffer without a type application/octet-stream; the app named none
  if (Buffer.isBuffer(body) && res.headers['content-type'] === undefined) return reply.send(Readable.from([body]));
  return reply.send(body);
}
