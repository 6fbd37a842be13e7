// Stages 3 and 4: verify the signature on the raw bytes, then name the tenant and the delivery key.
// With per-tenant secrets the tenant is read first (unverified) only to choose the secrets: a valid
// signature with that tenant's secret is what proves it.
import type { FastifyReply, FastifyRequest, preValidationHookHandler } from 'fastify';
import type { Route } from '../config/load.js';
import type { Metrics } from '../observability/metrics.js';
import { answer } from './answer.js';
import { tenantOf } from './tenant.js';
import { deliveryKey } from './idempotency.js';
import { httpFetcher, type Fetcher, type Resolved } from '../providers/remote.js';
import type { SignedRequest } from '../providers/types.js';
import type { CounterCell } from '../observability/fast-metrics.js';

const EMPTY = Buffer.alloc(0);

export interface VerifyDeps {
  mode: 'enforce' | 'monitor';
  metrics: Metrics;
  now: () => number;
  /** how keys are fetched for JWKS and certificate-URL routes (tests inject their own) */
  fetcher?: Fetcher;
}

const isPromise = (v: unknown): v is Promise<Resolved> => typeof (v as Promise<Resolved> | undefined)?.then === 'function';

/**
 * A callback hook: every step is synchronous, and an async hook costs a promise and a microtask a
 * request. `check` answers (and stops the chain) or leaves the request to the next stage.
 */
export function verifySignature(route: Route, deps: VerifyDeps): preValidationHookHandler {
  const check = verifyStage(route, deps);
  // Keys from the network (JWKS, certificate URLs): resolved first, asynchronously only on a cache miss,
  // so the verifier itself stays pure. One resolver (one cache) per route.
  const remote = route.scheme.remote?.(route.options, deps.fetcher ?? httpFetcher);
  if (!remote) {
    return function verify(request, reply, done) {
      if (check(request, reply, undefined)) done();
    };
  }
  const monitor = deps.mode === 'monitor';
  const after = (request: FastifyRequest, reply: FastifyReply, done: () => void, r: Resolved) => {
    if (r.ok) {
      if (check(request, reply, r.material)) done();
      return;
    }
    if (monitor) {
      request.hg!.verdict = r.code;
      return done();
    }
    // a key server that did not answer is not the sender's fault: 503, so the provider retries
    if (r.code === 'keys_unavailable') answer(reply, 'keys_unavailable', r.message, 30);
    else answer(reply, r.code, r.message);
  };
  return function verify(request, reply, done) {
    if (request.hg!.handshake) return done();
    const req: SignedRequest = { method: request.method, url: request.url, headers: request.headers, body: Buffer.isBuffer(request.body) ? request.body : EMPTY };
    const r = remote.resolve(req, deps.now());
    if (!isPromise(r)) return after(request, reply, done, r);
    r.then(
      (res) => after(request, reply, done, res),
      () => after(request, reply, done, { ok: false, code: 'keys_unavailable', message: 'the signing keys could not be fetched; retry later' }),
    );
  };
}

/** true: go on; false: answered. */
function verifyStage(route: Route, deps: VerifyDeps): (request: FastifyRequest, reply: FastifyReply, fetched: unknown) => boolean {
  const { metrics, now } = deps;
  const monitor = deps.mode === 'monitor';
  const scheme = route.scheme;
  const perTenant = route.keys instanceof Map ? route.keys : null;

  // The counter's cell per secret index, found once
  const matched: CounterCell[] = [];
  const matchCell = (i: number) => (matched[i] ??= metrics.secretMatches.cell(route.path, String(i)));

  return function verify(request, reply, fetched) {
    const d = request.hg!;
    if (d.handshake) return true; // an unsigned handshake in its protocol's narrow shape, forwarded unverified and never claimed
    const body = Buffer.isBuffer(request.body) ? request.body : EMPTY;

    let keys = perTenant ? undefined : (route.keys as readonly unknown[]);
    if (perTenant) {
      const t = tenantOf(route.tenant, request, body);
      if (t.ok) {
        d.tenant = t.tenant;
        keys = perTenant.get(t.tenant);
      }
      if (!keys) {
        if (!monitor) return answer(reply, 'signature_invalid', 'no secret is configured for this tenant'), false;
        d.verdict = 'signature_invalid';
        return true;
      }
    }

    const verdict = scheme.verify({ method: request.method, url: request.url, headers: request.headers, body }, keys!, route.options, now(), fetched);
    if (!verdict.ok) {
      if (!monitor) return answer(reply, verdict.code, verdict.message), false;
      d.verdict = verdict.code;
      return true;
    }
    d.verdict = 'ok';
    d.secretIndex = verdict.secretIndex;
    d.signedId = verdict.id;
    d.signedAt = verdict.timestamp;
    matchCell(verdict.secretIndex).inc();

    if (d.tenant === undefined) {
      const t = tenantOf(route.tenant, request, body);
      if (!t.ok) return answer(reply, 'malformed', t.message), false;
      d.tenant = t.tenant;
    } else if (perTenant && route.tenant.kind === 'json') {
      // The secrets were chosen by a scan of the unsigned bytes; what later stages read is the parse.
      // The scanner refuses the ambiguities it knows (duplicate keys), this catches any it does not:
      // a body must not pick one tenant's secrets while it delivers as another.
      const t = tenantOf(route.tenant, request, body);
      if (!t.ok || t.tenant !== d.tenant) return answer(reply, 'malformed', 'the signed body names its tenant differently from how it was read to choose the secrets'), false;
    }
    const k = deliveryKey(route, d.tenant, verdict, request, body);
    if (!k.ok) return answer(reply, 'malformed', k.message), false;
    d.key = k.key;
    return true;
  };
}
