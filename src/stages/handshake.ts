// Handshakes the provider does not sign (src/providers/handshakes.ts): answered here, before the
// method check and verification ("before"), or once the request is verified ("after"); or marked to be
// forwarded unverified (`hookgate-handshake`), never claimed. Anything that is not the probe goes
// through the route as usual.
import type { FastifyReply, FastifyRequest, onRequestHookHandler, preValidationHookHandler } from 'fastify';
import type { Route } from '../config/load.js';
import type { HandshakeAnswer } from '../providers/handshakes.js';
import { answer } from './answer.js';

function query(url: string): URLSearchParams {
  const i = url.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : url.slice(i + 1));
}

function reply(request: FastifyRequest, res: FastifyReply, a: HandshakeAnswer): boolean {
  const d = request.hg!;
  if (a.kind === 'forward') {
    d.handshake = request.hg!.route.handshake!.def.kind;
    return true;
  }
  if (a.kind === 'refuse') {
    answer(res, 'signature_invalid', a.message);
    return false;
  }
  d.outcome = 'handshake';
  res.code(a.status).header('hookgate-outcome', 'handshake');
  if (a.contentType) res.header('content-type', a.contentType);
  for (const [k, v] of Object.entries(a.headers ?? {})) res.header(k, v);
  res.send(a.body);
  return false;
}

/** Starts the delivery (as the method check would) so the unverified limiter can run before the probe. */
export function startDelivery(route: Route): onRequestHookHandler {
  const tenant = route.tenant.kind === 'literal' ? route.tenant.value : undefined;
  return function start(request, _res, done) {
    request.hg = { route, startedAt: process.hrtime.bigint(), tenant };
    done();
  };
}

/** Before the method check: GET/HEAD/OPTIONS probes on a POST route are the point. After startDelivery and the unverified limiter. */
export function handshakeBefore(route: Route): onRequestHookHandler | null {
  const h = route.handshake;
  if (!h || h.def.phase !== 'before') return null;
  return function handshake(request, res, done) {
    const a = h.def.match({ method: request.method, query: query(request.url), headers: request.headers }, h.ctx);
    if (a === null || reply(request, res, a)) done();
  };
}

/** After verification (Azure Event Grid's validation event carries the route's usual credentials). */
export function handshakeAfter(route: Route): preValidationHookHandler | null {
  const h = route.handshake;
  if (!h || h.def.phase !== 'after') return null;
  return function handshake(request, res, done) {
    const body = Buffer.isBuffer(request.body) ? request.body : undefined;
    // monitor mode forwards what failed verification; a probe is answered only when it verified
    if (request.hg?.verdict !== undefined && request.hg.verdict !== 'ok') return done();
    const a = h.def.match({ method: request.method, query: query(request.url), headers: request.headers }, h.ctx, body);
    if (a === null || reply(request, res, a)) done();
  };
}
