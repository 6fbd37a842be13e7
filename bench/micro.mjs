#!/usr/bin/env node
// What each piece of the hot path costs on its own, in CPU microseconds per delivery, measured in this
// process with the gateway's own modules from dist/ (`npm run build` first). Pieces are interleaved
// over several rounds and the median is printed, so a busy machine skews them less. Compare with the
// gateway's CPU per request from `npm run bench` to see which lever is worth pulling.
//
//   node bench/micro.mjs            (BENCH_MICRO_MS: time per piece per round, default 300)
import { openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeSigner, SECRET } from './lib/load.mjs';
import { median } from './lib/report.mjs';

const ROOT = process.env.BENCH_GATEWAY_ROOT ? resolve(process.env.BENCH_GATEWAY_ROOT) : fileURLToPath(new URL('../', import.meta.url));
const dist = (p) => import(pathToFileURL(join(ROOT, 'dist/src', p)).href);
const MS = Number(process.env.BENCH_MICRO_MS ?? 300);
const ROUNDS = Number(process.env.BENCH_MICRO_ROUNDS ?? 5);

const { createLogger } = await dist('observability/logger.js');
const { createMetrics } = await dist('observability/metrics.js');
const { getScheme } = await dist('providers/index.js');
const { openLedger } = await dist('ledger/index.js');
const { resolveConfig } = await dist('config/load.js');
const pino = (await import('pino')).default;

const devnull = openSync('/dev/null', 'w');
const fields = { route: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', outcome: 'forwarded', key: '/webhooks/stripe|acme|id:evt_1234567890abcdef', attempt: 1, status: 200, ms: 1.234 };
const logSync = createLogger('info', pino.destination({ dest: devnull, sync: true }));
const logAsync = createLogger('info', pino.destination({ dest: devnull, sync: false, minLength: 4096 }));
const logPlain = pino({ level: 'info', base: { service: 'hookgate' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: devnull, sync: true }));
// a request-bound child, as Fastify gives each request (reqId binding)
let reqId = 0;

const metrics = createMetrics({ defaultMetrics: false });
const matchLabels = { route: '/webhooks/stripe', index: '0' };
const matchCell = metrics.secretMatches.cell?.('/webhooks/stripe', '0');
const ledger = await openLedger({ url: 'embedded', retentionMs: 72 * 3600e3, leaseMs: 30e3, cache: 100000, migrate: true }, { onOp: (op, s) => metrics.ledgerDuration.observe({ op }, s), onCacheHit: () => metrics.cacheHits.inc() });

// 1000 settled keys for the duplicate piece
for (let i = 0; i < 1000; i++) {
  const c = await ledger.claim(`stripe:acme:evt_dup_${i}`);
  await ledger.complete(`stripe:acme:evt_dup_${i}`, c.token, 200);
}
const config = resolveConfig({
  upstream: { url: 'http://127.0.0.1:1' },
  routes: [{ path: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', secrets: [SECRET] }],
}, { env: {}, baseDir: process.cwd() }).config;
const route = config.routes[0];
const scheme = getScheme ? getScheme('stripe') : route.scheme;
const sign = makeSigner();
const samples = Array.from({ length: 4096 }, () => sign());
const reqs = samples.map((s) => ({ method: 'POST', url: '/webhooks/stripe', headers: { 'content-type': 'application/json', 'stripe-signature': s.signature }, body: Buffer.from(s.body) }));

let n = 0;
const pieces = {
  'pino: one delivery line (sync, as now)': () => logSync.child({ reqId: `req-${++reqId}` }).info(fields, 'delivery'),
  'pino: one delivery line (async destination)': () => logAsync.child({ reqId: `req-${++reqId}` }).info(fields, 'delivery'),
  'pino: one delivery line, no redaction (sync)': () => logPlain.child({ reqId: `req-${++reqId}` }).info(fields, 'delivery'),
  'pino: one delivery line, no redaction, no child logger (sync)': () => logPlain.info({ reqId: `req-${++reqId}`, ...fields }, 'delivery'),
  // what a delivery counts, as the stages count it: cells of the plain-number metrics where the build
  // has them (src/observability/fast-metrics.ts), prom-client's label objects in a build before them
  'metrics: one delivery (requests, 4 histogram observes, secret match, in flight)': metrics.requests.cell
    ? () => {
        metrics.requests.cell('/webhooks/stripe', 'stripe', 'acme', 'forwarded').inc();
        metrics.requestDuration.cell('forwarded').observe(0.0012);
        metrics.upstreamDuration.observe(0.0008);
        metrics.ledgerDuration.cell('claim').observe(0.00002);
        metrics.ledgerDuration.cell('complete').observe(0.00002);
        matchCell.inc();
        metrics.inFlight.inc();
        metrics.inFlight.dec();
      }
    : () => {
        metrics.requests.inc({ route: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', outcome: 'forwarded' });
        metrics.requestDuration.observe({ outcome: 'forwarded' }, 0.0012);
        metrics.upstreamDuration.observe(0.0008);
        metrics.ledgerDuration.observe({ op: 'claim' }, 0.00002);
        metrics.ledgerDuration.observe({ op: 'complete' }, 0.00002);
        metrics.secretMatches.inc(matchLabels);
        metrics.inFlight.inc();
        metrics.inFlight.dec();
      },
  'verify: stripe HMAC over 2 KiB + JSON id': () => {
    const r = reqs[n++ & 4095];
    const v = route.scheme.verify(r, route.keys, route.options, Date.now());
    if (!v.ok) throw new Error(`verify failed: ${v.code}`);
  },
  'ledger: claim + complete, embedded (with LRU, hooks)': async () => {
    const k = `stripe:acme:evt_micro_${n++}`;
    const c = await ledger.claim(k);
    await ledger.complete(k, c.token, 200);
  },
  'ledger: duplicate answered from the LRU': async () => {
    const r = await ledger.claim(`stripe:acme:evt_dup_${n++ % 1000}`);
    if (r.state !== 'done') throw new Error(`expected a duplicate, got ${r.state}`);
  },
};
void scheme;

async function time(fn) {
  const c0 = process.cpuUsage();
  const end = performance.now() + MS;
  let i = 0;
  while (performance.now() < end) {
    for (let j = 0; j < 100; j++) await fn();
    i += 100;
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / i;
}

const results = Object.fromEntries(Object.keys(pieces).map((k) => [k, []]));
for (let r = 0; r < ROUNDS + 1; r++) {
  for (const [name, fn] of Object.entries(pieces)) {
    const us = await time(fn);
    if (r > 0) results[name].push(us); // round 0 warms up
  }
}
console.log(`CPU µs per call, median of ${ROUNDS} rounds × ${MS} ms (Node ${process.version})`);
for (const [name, xs] of Object.entries(results)) console.log(`  ${median(xs).toFixed(2).padStart(7)} µs  ${name}`);
// /dev/null stays open: pino flushes the async destination at exit (closed, its flush would spin)
await ledger.close();
