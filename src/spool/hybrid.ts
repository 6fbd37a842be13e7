// The last stage of a `delivery: hybrid` route: forward while the provider waits, as `sync` does;
// when the upstream fails (not reached, overloaded, or an answer outside completeOn), store the
// delivery in the spool instead of failing it back to the provider, and answer acceptStatus
// `spooled`. The synchronous try counts like a dispatch: a failed answer spends the first attempt,
// not reached / overloaded spend none and back the route off, and while the route backs off new
// deliveries are stored at once without a try.
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { Route } from '../config/load.js';
import type { Pool } from '../stages/upstream-pool.js';
import { settle, type ClaimDeps } from '../stages/claim.js';
import { relay, upstreamHeaders } from '../stages/forward.js';
import { callUpstream, discard } from '../stages/upstream-call.js';
import { trustFunction } from '../config/trust-proxy.js';
import { errSummary } from '../errors.js';
import { isHandshake } from './handshake.js';
import { storeDelivery, type SpoolStageDeps } from './accept.js';
import { upstreamTarget } from '../stages/request-target.js';
import { classifyError, classifyStatus, nextRetryMs, parseRetryAfter, type DispatchClass } from './schedule.js';
import { childSpan, traceHeaders } from '../observability/tracing.js';


export function hybridDelivery(route: Route, deps: SpoolStageDeps & { upstream: Pool; claims: ClaimDeps }): RouteHandlerMethod {
  const { config, spool, metrics } = deps;
  const store = storeDelivery(route, deps);
  const trust = trustFunction(config.trustProxy);
  const target = upstreamTarget(config.upstream.url, route);
  const timeout = config.upstream.timeoutMs;
  const completes = config.upstream.completes;

  return async function hybrid(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    const d = request.hg!;
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    if (isHandshake(route.provider, request.headers, body) || !d.claim || d.key === undefined) return deps.forward.call(this, request, reply);

    let cls: DispatchClass = 'not_reached';
    let error: string | null = 'held: the upstream is not taking deliveries (backing off)';
    if (spool.dispatcher.healthy(route)) {
      const ours = ['hookgate-provider', route.provider, 'hookgate-attempt', String(d.claim.attempt)];
      if (d.tenant !== undefined) ours.push('hookgate-tenant', d.tenant);
      ours.push('hookgate-idempotency-key', d.key);
      // Tracing on: as the synchronous forward, the upstream gets the delivery span's context.
      const trace = d.trace;
      if (trace) ours.push(...traceHeaders(trace));
      const span = trace && childSpan(trace, 'hookgate.forward');
      let retryAfter: number | undefined;
      const started = process.hrtime.bigint();
      try {
        const res = await callUpstream(deps.upstream, {
          path: target(request.params as Record<string, string>, request.url),
          method: request.method as 'POST',
          headers: upstreamHeaders(request, trust, ours, trace !== undefined),
          body: body.length ? body : request.method === 'GET' || request.method === 'HEAD' ? null : body,
          headersTimeout: timeout,
          bodyTimeout: timeout,
        });
        if (span) {
          span.setAttribute('http.response.status_code', res.statusCode);
          span.end();
        }
        if (completes(res.statusCode)) {
          // The upstream took it: exactly the synchronous forward's answer.
          metrics.upstreamDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
          spool.dispatcher.observe(route, 'delivered', undefined, null);
          await settle(deps.claims, d.key, d.claim, res.statusCode, completes, request.log, trace);
          d.claim = undefined;
          d.outcome = 'forwarded';
          return relay(reply, res);
        }
        retryAfter = parseRetryAfter(res.headers['retry-after'], Date.now());
        await discard(res);
        cls = classifyStatus(res.statusCode, completes);
        error = `status ${res.statusCode}`;
      } catch (err) {
        const code = (err as { code?: string }).code;
        cls = classifyError(code);
        error = `${cls === 'not_reached' ? 'not reached' : 'failed'}: ${code ?? (err as Error).message}`;
        if (span) {
          span.setAttribute('hookgate.outcome', cls);
          span.end();
        }
        request.log.warn({ err: errSummary(err) }, 'hybrid: upstream failed; storing the delivery');
      }
      metrics.upstreamDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      spool.dispatcher.observe(route, cls, retryAfter, error);
    }
    // Stored for the dispatcher; a failed try spent the first attempt.
    const spent = cls === 'failed';
    const delayMs = spent ? nextRetryMs(1, route.spool!.retryMs, Math.random()) ?? 0 : 0;
    return store(request, reply, { dispatch: false, ...(spent ? { attempts: 1, delayMs } : {}) });
  };
}
