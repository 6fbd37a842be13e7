// The load: autocannon, run programmatically in the harness process, POSTing Stripe-signed 2 KiB
// event bodies. Each request gets its own event id (a per-run prefix and a counter), so the ledger
// sees a new key every time; in duplicate mode the ids cycle through a small set already delivered.
//
// Signing is cheap enough to do per request in the client (one HMAC-SHA256 over 2 KiB ≈ 3 µs, and the
// body is one string concatenation of fixed parts), so it is never the bottleneck: `signCostUs()`
// measures it and the report prints it next to the numbers.
import { createHmac, randomBytes } from 'node:crypto';
import autocannon from 'autocannon';

export const SECRET = 'whsec_bench_only_0123456789abcdefghijklmnopqrstuv';
export const PATH = '/webhooks/stripe';
const BODY_BYTES = 2048;

/** A Stripe-like event body of exactly 2048 bytes around the id. */
function template() {
  const head = (id) => `{"id":"${id}","object":"event","api_version":"2024-06-20","created":`;
  const tail = `,"livemode":false,"pending_webhooks":1,"type":"payment_intent.succeeded","data":{"object":{"id":"pi_3PbenchXYZ","object":"payment_intent","amount":2000,"currency":"usd","status":"succeeded","metadata":{"order":"`;
  const end = `"}}}}`;
  return { head, tail, end };
}

/**
 * Returns a per-request signer. `ids`: null for unique ids, or a number N for ids cycling over
 * N fixed ones (duplicates). Timestamps are the current second, so a long run stays within tolerance.
 */
export function makeSigner({ ids = null, prefix = randomBytes(4).toString('hex'), secret = SECRET } = {}) {
  const { head, tail, end } = template();
  let n = 0;
  let sec = 0;
  let tsText = '';
  // The padding makes every body exactly BODY_BYTES long; the id's length varies, so it is computed once per length.
  const pads = new Map();
  return function next() {
    const i = ids === null ? n++ : n++ % ids;
    const id = `evt_${prefix}_${i}`;
    const now = Math.floor(Date.now() / 1000);
    if (now !== sec) {
      sec = now;
      tsText = String(now);
    }
    const fixed = head(id).length + tsText.length + tail.length + end.length;
    let pad = pads.get(fixed);
    if (pad === undefined) pads.set(fixed, (pad = 'x'.repeat(Math.max(0, BODY_BYTES - fixed))));
    const body = head(id) + tsText + tail + pad + end;
    const sig = createHmac('sha256', secret).update(tsText).update('.').update(body).digest('hex');
    return { body, signature: `t=${tsText},v1=${sig}`, id };
  };
}

/** Microseconds per signed body on this machine (what the client spends per request on signing). */
export function signCostUs(n = 20_000) {
  const next = makeSigner();
  for (let i = 0; i < 2000; i++) next();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) next();
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

/**
 * Drives `url` for `seconds` (or `amount` requests) with `connections` keep-alive connections.
 * Returns autocannon's result plus a summary in plain numbers.
 */
export function drive(url, { seconds = 10, amount, connections = 50, ids = null, prefix, rate, secret } = {}) {
  const next = makeSigner({ ids, prefix, ...(secret ? { secret } : {}) });
  const opts = {
    url,
    connections,
    pipelining: 1,
    timeout: 10,
    ...(amount ? { amount } : { duration: seconds }),
    ...(rate ? { overallRate: rate } : {}),
    requests: [
      {
        method: 'POST',
        path: PATH,
        setupRequest(req) {
          const s = next();
          req.body = s.body;
          req.headers = { 'content-type': 'application/json', 'stripe-signature': s.signature, 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' };
          return req;
        },
      },
    ],
  };
  return new Promise((resolve, reject) => {
    const inst = autocannon(opts, (err, r) => {
      if (err) return reject(err);
      resolve({
        requests: r.requests.total,
        rps: r.requests.total / (r.duration || seconds),
        p50: r.latency.p50,
        p99: r.latency.p99,
        mean: r.latency.average,
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        statusCodes: r.statusCodeStats,
        duration: r.duration,
      });
    });
    // autocannon keeps running on SIGINT unless stopped; the harness stops it on abort.
    drive.current = inst;
  });
}
