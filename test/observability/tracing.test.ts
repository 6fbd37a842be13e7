// Traces (CONTRACT.md, Operations) end to end: `hookgate run` as a real process, configured only by
// the standard OTEL_* variables, exporting to a real OTLP/HTTP receiver started here, which decodes
// what the exporter sends (OTLP JSON). Asserted: the span tree, the caller's traceparent as parent,
// the traceparent the upstream received, no secret/body/header value in the export, the spans of the
// last deliveries exported on SIGTERM, with tracing off no OpenTelemetry module in the process, and
// the spool's dispatches: each a span of its own trace linked to the accepting delivery span, also
// across a SIGKILL and a restart on the same embedded file.
import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import Stripe from 'stripe';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { BIN, spawnHookgate, until } from '../helpers/hookgate-process.js';
import { startReceiver, type OtlpSpan, type Receiver } from '../helpers/otlp-receiver.js';

const stripe = new Stripe('sk_test_dummy');
const SECRET = 'whsec_tracing_secret_7f3a9c';
const BODY_MARK = 'body-marker-5d1e';
const HEADER_MARK = 'header-value-marker-c4b2';
const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const RECORDER = new URL('../helpers/module-recorder.js', import.meta.url).href;

function setup(t: Test, up: Upstream): { dir: string; file: string; modules: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-tracing-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, `listen: 127.0.0.1:0
admin: 127.0.0.1:0
upstream:
  url: ${up.url}
ledger:
  url: embedded:${join(dir, 'ledger.db')}
routes:
  - path: /hooks
    provider: stripe
    tenant: acme
    secrets: [env:TRACING_SECRET]
`);
  return { dir, file, modules: join(dir, 'modules.log') };
}

function delivery(id: string, extra: Record<string, string> = {}) {
  const payload = JSON.stringify({ id, type: 'invoice.paid', data: { note: BODY_MARK } });
  const headers = { 'content-type': 'application/json', 'x-app-note': HEADER_MARK, 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }), ...extra };
  return { payload, headers, signature: headers['stripe-signature'] };
}

async function post(url: string, d: { payload: string; headers: Record<string, string> }, path = '/hooks') {
  const res = await request(`${url}${path}`, { method: 'POST', headers: d.headers, body: d.payload });
  await res.body.text();
  return { status: res.statusCode, outcome: res.headers['hookgate-outcome'] };
}

// Every OpenTelemetry module but the API, which prom-client itself requires (for exemplars) in any
// process that collects the default metrics: the SDK, the exporter, resources, core, the transformer.
const otelModules = (log: string) => readFileSync(log, 'utf8').split('\n').filter((l) => /@opentelemetry\/(?!api(?:$|\/build\/))/.test(l));

t.test('a delivery is a hookgate.delivery span under the caller\'s traceparent, with verify, claim, forward and settle children', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const up = await startUpstream();
  t.teardown(() => up.close());
  const { file, modules } = setup(t, up);
  const p = spawnHookgate(t, ['run', '--config', file], {
    TRACING_SECRET: SECRET,
    OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
    OTEL_BSP_SCHEDULE_DELAY: '50',
    HOOKGATE_MODULE_LOG: modules,
  }, ['--import', RECORDER, BIN]);
  const { traffic } = await p.started();

  const first = delivery(`evt_trace_${Date.now()}`, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, tracestate: 'vendor=opaque' });
  t.same(await post(traffic, first), { status: 200, outcome: 'forwarded' });
  t.same(await post(traffic, first), { status: 200, outcome: 'duplicate' }, 'the retry is a duplicate');
  const forged = delivery(`evt_forged_${Date.now()}`);
  forged.headers['stripe-signature'] = forged.headers['stripe-signature'].replace(/v1=[0-9a-f]{4}/, 'v1=0000');
  t.same(await post(traffic, forged), { status: 401, outcome: 'signature_invalid' });

  await until(() => rx.spans.filter((s) => s.name === 'hookgate.delivery').length === 3 && rx.spans.length >= 3 + 4 + 2 + 1, 'the receiver has the three deliveries and their children', 20_000);
  t.match(rx.paths[0], /^POST \/v1\/traces application\/json/, 'OTLP/HTTP JSON on the standard path');

  const deliveries = rx.spans.filter((s) => s.name === 'hookgate.delivery');
  const line = await p.line((l) => l.msg === 'delivery' && l.outcome === 'forwarded', 'of the forwarded delivery');
  const fwd = deliveries.find((s) => s.attributes['hookgate.outcome'] === 'forwarded')!;
  t.ok(fwd, 'the forwarded delivery has its span');
  t.equal(fwd.traceId, CALLER_TRACE, "in the caller's trace");
  t.equal(fwd.parentSpanId, CALLER_SPAN, "its parent is the caller's span");
  t.same(fwd.resource['service.name'], 'hookgate', 'service.name defaults to hookgate');
  t.same(fwd.attributes, {
    'hookgate.route': '/hooks', 'hookgate.provider': 'stripe', 'http.request.method': 'POST',
    'hookgate.outcome': 'forwarded', 'http.response.status_code': 200, 'hookgate.tenant': 'acme',
    'hookgate.idempotency_key': line.key as string, 'hookgate.attempt': 1,
  }, 'route, provider, tenant, outcome, idempotency key and attempt');

  const children = rx.spans.filter((s) => s.parentSpanId === fwd.spanId);
  t.same(children.map((s) => s.name).sort(), ['hookgate.claim', 'hookgate.forward', 'hookgate.settle', 'hookgate.verify'], 'verify, claim, forward, settle');
  for (const c of children) t.equal(c.traceId, CALLER_TRACE, `${c.name} is in the same trace`);
  t.equal(children.find((s) => s.name === 'hookgate.forward')!.attributes['http.response.status_code'], 200);
  t.equal(children.find((s) => s.name === 'hookgate.settle')!.attributes['hookgate.settle'], 'complete');

  // The upstream gets the delivery span's context, not the caller's (one traceparent, no tracestate of the caller's).
  t.equal(up.received.length, 1);
  const raw = up.received[0]!.rawHeaders;
  const named = (n: string) => raw.filter((_, i) => i % 2 === 0 && raw[i]!.toLowerCase() === n).length;
  t.equal(named('traceparent'), 1, 'exactly one traceparent');
  t.equal(up.received[0]!.headers.traceparent, `00-${CALLER_TRACE}-${fwd.spanId}-01`, "the delivery span's context");
  t.equal(up.received[0]!.headers.tracestate, 'vendor=opaque', 'tracestate is carried on (it belongs to the trace, and was extracted with it)');

  const dup = deliveries.find((s) => s.attributes['hookgate.outcome'] === 'duplicate')!;
  t.ok(dup, 'the duplicate has its span');
  t.equal(dup.parentSpanId, CALLER_SPAN, 'the retry carried the same traceparent: same parent');
  t.same(rx.spans.filter((s) => s.parentSpanId === dup.spanId).map((s) => [s.name, s.attributes['hookgate.outcome']]).sort(), [['hookgate.claim', 'duplicate'], ['hookgate.verify', undefined]], 'verify, then a claim answered duplicate');
  const bad = deliveries.find((s) => s.attributes['hookgate.outcome'] === 'signature_invalid')!;
  t.ok(bad, 'the refused delivery has its span');
  t.same(rx.spans.filter((s) => s.parentSpanId === bad.spanId).map((s) => [s.name, s.attributes['hookgate.outcome']]), [['hookgate.verify', 'signature_invalid']], 'verify only, which answered');
  t.notOk('hookgate.idempotency_key' in bad.attributes, 'no key before verification');
  t.notOk(bad.parentSpanId, 'without a traceparent, a delivery starts a trace');
  t.not(bad.traceId, CALLER_TRACE);

  const exported = rx.bodies.join('\n');
  for (const [what, value] of [['the secret', SECRET], ['a body byte run', BODY_MARK], ['a header value', HEADER_MARK], ['the signature', first.signature], ['the forged signature', forged.signature], ['the signature\'s MAC', /v1=([0-9a-f]+)/.exec(first.signature)![1]!]] as const)
    t.notOk(exported.includes(value), `the export carries no ${what}`);

  t.ok(otelModules(modules).some((l) => l.includes('@opentelemetry/sdk-trace-base')) && otelModules(modules).some((l) => l.includes('@opentelemetry/exporter-trace-otlp-http')), 'control: the module recorder does see the SDK when tracing is on');
});

t.test('an upstream that is down: the forward span says so, the claim is released, the delivery span is an error; a malformed traceparent starts a new trace', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const gone = await startUpstream();
  await gone.close(); // its port now refuses connections
  const { file } = setup(t, gone);
  const p = spawnHookgate(t, ['run', '--config', file], { TRACING_SECRET: SECRET, OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_BSP_SCHEDULE_DELAY: '50' });
  const { traffic } = await p.started();
  t.same(await post(traffic, delivery(`evt_down_${Date.now()}`, { traceparent: '00-zzzz-not-a-trace-01' })), { status: 502, outcome: 'upstream_unavailable' });
  await until(() => rx.spans.length >= 5, 'the delivery and its four children are exported', 20_000);
  const d = rx.spans.find((s) => s.name === 'hookgate.delivery')!;
  t.notOk(d.parentSpanId, 'the malformed traceparent is ignored: a new trace');
  t.equal(d.attributes['hookgate.outcome'], 'upstream_unavailable');
  t.equal(d.status?.code, 2, 'an error span: hookgate answered 502 itself');
  const child = (name: string) => rx.spans.find((s) => s.name === name && s.parentSpanId === d.spanId);
  t.equal(child('hookgate.forward')?.attributes['hookgate.outcome'], 'upstream_unavailable');
  t.equal(child('hookgate.settle')?.attributes['hookgate.settle'], 'release', 'the claim is released, so the provider\'s retry is forwarded');
  t.ok(child('hookgate.verify') && child('hookgate.claim'));
});

t.test('SIGTERM exports the spans still buffered before the process exits', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const up = await startUpstream();
  t.teardown(() => up.close());
  const { file } = setup(t, up);
  // A schedule far longer than the test: only the drain's flush can send these spans.
  const p = spawnHookgate(t, ['run', '--config', file], { TRACING_SECRET: SECRET, OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${rx.url}/v1/traces`, OTEL_BSP_SCHEDULE_DELAY: '600000', OTEL_SERVICE_NAME: 'edge-hooks' });
  const { traffic } = await p.started();
  t.same(await post(traffic, delivery(`evt_flush_${Date.now()}`)), { status: 200, outcome: 'forwarded' });
  t.equal(rx.spans.length, 0, 'nothing exported yet');
  p.child.kill('SIGTERM');
  t.same(await p.exited, { code: 0, signal: null }, 'exit 0');
  const spans = rx.spans.filter((s) => s.name === 'hookgate.delivery');
  t.equal(spans.length, 1, 'the delivery span was exported by the drain');
  t.equal(spans[0]?.resource['service.name'], 'edge-hooks', 'OTEL_SERVICE_NAME names the service');
});

t.test('tracing off: no OpenTelemetry module is loaded and the caller\'s traceparent passes through untouched', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const { file, modules } = setup(t, up);
  // OTEL_TRACES_EXPORTER=none wins over an endpoint.
  const p = spawnHookgate(t, ['run', '--config', file], { TRACING_SECRET: SECRET, OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', HOOKGATE_MODULE_LOG: modules }, ['--import', RECORDER, BIN]);
  const { traffic } = await p.started();
  const caller = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;
  t.same(await post(traffic, delivery(`evt_off_${Date.now()}`, { traceparent: caller })), { status: 200, outcome: 'forwarded' });
  t.equal(up.received[0]?.headers.traceparent, caller, 'the upstream gets the caller\'s traceparent as it was');
  p.child.kill('SIGTERM');
  t.same(await p.exited, { code: 0, signal: null });
  const log = readFileSync(modules, 'utf8');
  t.match(log, /esm file:.*\/dist\/src\/observability\/tracing\.js/, 'the recorder saw the process load hookgate\'s own modules');
  t.same(otelModules(modules), [], 'no OpenTelemetry module but the API (prom-client\'s): no SDK, exporter, resources or core');
});

t.test('an exporter hookgate does not have fails the start, naming the variable', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const { file } = setup(t, up);
  const p = spawnHookgate(t, ['run', '--config', file], { TRACING_SECRET: SECRET, OTEL_TRACES_EXPORTER: 'zipkin' });
  t.same(await p.exited, { code: 1, signal: null });
  t.match(p.stderr(), /OTEL_TRACES_EXPORTER=zipkin: .*set otlp/);
});

// ---- the spool ----------------------------------------------------------------------------------

/** The application on a port chosen now and started later (down until then), answering with `statuses` in turn, then 200. */
async function laterUpstream(statuses: number[] = []) {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  let server: Server | undefined;
  const received: { headers: Record<string, string | string[] | undefined>; rawHeaders: string[]; body: string }[] = [];
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    async start() {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received.push({ headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString('utf8') });
          res.statusCode = statuses.shift() ?? 200;
          res.end('ok');
        });
      });
      await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
    },
    close: () => new Promise<void>((r) => (server ? (server.closeAllConnections(), server.close(() => r())) : r())),
  };
}

function spoolSetup(t: Test, upstreamUrl: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-tracing-spool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, `listen: 127.0.0.1:0
admin: 127.0.0.1:0
upstream:
  url: ${upstreamUrl}
  timeout: 1s
ledger:
  url: embedded:${join(dir, 'ledger.db')}
routes:
  - path: /spooled
    provider: stripe
    tenant: acme
    secrets: [env:TRACING_SECRET]
    delivery: spool
    spool: { retry: [100ms, 100ms, 100ms] }
  - path: /hybrid
    provider: stripe
    tenant: acme
    secrets: [env:TRACING_SECRET]
    delivery: hybrid
    spool: { retry: [100ms, 100ms, 100ms] }
`);
  return file;
}

const spanCtx = (s: OtlpSpan) => `00-${s.traceId}-${s.spanId}-01`;
const dispatches = (rx: Receiver) => rx.spans.filter((s) => s.name === 'hookgate.dispatch');

function assertLinked(t: Test, spans: OtlpSpan[], accepting: OtlpSpan): void {
  for (const d of spans) {
    const what = `the ${d.attributes['hookgate.outcome']} dispatch (attempt ${d.attributes['hookgate.attempt']})`;
    t.notOk(d.parentSpanId, `${what} is a root`);
    t.not(d.traceId, accepting.traceId, `${what} is in a trace of its own`);
    t.same(d.links?.map((l) => [l.traceId, l.spanId]), [[accepting.traceId, accepting.spanId]], `${what} links to the accepting delivery span`);
  }
  t.equal(new Set(spans.map((d) => d.traceId)).size, spans.length, 'each dispatch is a trace of its own');
}

t.test('spool: each dispatch is a hookgate.dispatch span of its own trace linked to the accepting delivery span; the upstream gets its traceparent', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const up = await laterUpstream([500]);
  t.teardown(() => up.close());
  const file = spoolSetup(t, up.url);
  const p = spawnHookgate(t, ['run', '--config', file], { TRACING_SECRET: SECRET, OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_BSP_SCHEDULE_DELAY: '50' });
  const { traffic } = await p.started();

  // Accepted while the application is down: stored, answered, then a dispatch that does not reach it.
  const first = delivery(`evt_spool_${Date.now()}`, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, tracestate: 'vendor=opaque' });
  t.same(await post(traffic, first, '/spooled'), { status: 200, outcome: 'spooled' });
  await until(() => dispatches(rx).some((s) => s.attributes['hookgate.outcome'] === 'not_reached'), 'a dispatch that did not reach the application is exported', 20_000);
  // Back: the first answer is a 500 (an attempt spent, retried after 100 ms), then 200.
  await up.start();
  await until(() => dispatches(rx).some((s) => s.attributes['hookgate.outcome'] === 'delivered'), 'the delivered dispatch is exported', 30_000);
  await until(() => rx.spans.filter((s) => s.name === 'hookgate.settle').length >= dispatches(rx).length, 'every dispatch\'s settle span is exported', 20_000);

  const accepting = rx.spans.find((s) => s.name === 'hookgate.delivery')!;
  t.equal(accepting.attributes['hookgate.outcome'], 'spooled', 'the accepting delivery span');
  t.equal(accepting.traceId, CALLER_TRACE, "in the caller's trace");
  const key = accepting.attributes['hookgate.idempotency_key'];
  t.ok(key, 'the accepting span names the key');

  const all = dispatches(rx);
  t.same(all.map((s) => s.attributes['hookgate.outcome']).filter((o, i, a) => a.indexOf(o) === i).sort(), ['delivered', 'failed', 'not_reached'], 'not reached, failed (500), delivered');
  assertLinked(t, all, accepting);
  const failed = all.find((s) => s.attributes['hookgate.outcome'] === 'failed')!;
  const delivered = all.find((s) => s.attributes['hookgate.outcome'] === 'delivered')!;
  t.same(delivered.attributes, {
    'hookgate.route': '/spooled', 'hookgate.provider': 'stripe', 'hookgate.tenant': 'acme', 'hookgate.idempotency_key': key,
    'hookgate.attempt': 2, 'hookgate.outcome': 'delivered', 'http.response.status_code': 200,
  }, 'route, provider, tenant, key, attempt, outcome and status');
  t.equal(failed.attributes['hookgate.attempt'], 1);
  t.equal(failed.attributes['http.response.status_code'], 500);
  t.equal(failed.status?.code, 2, 'a dispatch that did not deliver is an error span');
  t.notOk(delivered.status?.code === 2, 'the delivered one is not');
  for (const d of [failed, delivered]) {
    const children = rx.spans.filter((s) => s.parentSpanId === d.spanId);
    t.same(children.map((s) => s.name).sort(), ['hookgate.forward', 'hookgate.settle'], `forward and settle under the ${d.attributes['hookgate.outcome']} dispatch`);
  }
  t.equal(rx.spans.find((s) => s.name === 'hookgate.settle' && s.parentSpanId === delivered.spanId)?.attributes['hookgate.settle'], 'delivered');
  t.equal(rx.spans.find((s) => s.name === 'hookgate.settle' && s.parentSpanId === failed.spanId)?.attributes['hookgate.settle'], 'pending');
  t.equal(rx.spans.find((s) => s.name === 'hookgate.forward' && s.parentSpanId === all.find((d) => d.attributes['hookgate.outcome'] === 'not_reached')!.spanId)?.attributes['hookgate.outcome'], 'not_reached');

  // What the application received: each try carries its own dispatch span's context, not the caller's.
  t.equal(up.received.length, 2, 'the 500 and the 200');
  t.same(up.received.map((r) => r.headers.traceparent), [spanCtx(failed), spanCtx(delivered)], "each try carries its dispatch span's traceparent");
  for (const r of up.received) {
    t.equal(r.rawHeaders.filter((_, i) => i % 2 === 0 && r.rawHeaders[i]!.toLowerCase() === 'traceparent').length, 1, 'exactly one traceparent');
    t.notOk('tracestate' in r.headers, "the caller's tracestate belongs to the caller's trace: not sent with the dispatch's");
    t.equal(r.body, first.payload, 'the body as received');
  }

  const exported = rx.bodies.join('\n');
  for (const [what, value] of [['the secret', SECRET], ['a body byte run', BODY_MARK], ['a header value', HEADER_MARK], ['the signature', first.signature]] as const)
    t.notOk(exported.includes(value), `the export carries no ${what}`);
});

t.test('spool: the accepting span\'s context is stored with the delivery, so a dispatch after a SIGKILL and a restart still links to it', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const up = await laterUpstream();
  t.teardown(() => up.close());
  const file = spoolSetup(t, up.url);
  const env = { TRACING_SECRET: SECRET, OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_BSP_SCHEDULE_DELAY: '50' };
  const a = spawnHookgate(t, ['run', '--config', file], env);
  const before = await a.started();
  t.same(await post(before.traffic, delivery(`evt_restart_${Date.now()}`), '/spooled'), { status: 200, outcome: 'spooled' });
  await until(() => rx.spans.some((s) => s.name === 'hookgate.delivery') && dispatches(rx).length >= 1, 'the accepting span and the first (not reached) dispatch are exported', 20_000);
  a.child.kill('SIGKILL');
  t.same(await a.exited, { code: null, signal: 'SIGKILL' });
  const accepting = rx.spans.find((s) => s.name === 'hookgate.delivery')!;
  t.equal(accepting.attributes['hookgate.outcome'], 'spooled');

  await up.start();
  const b = spawnHookgate(t, ['run', '--config', file], env);
  await b.started();
  await until(() => dispatches(rx).some((s) => s.attributes['hookgate.outcome'] === 'delivered'), 'the restarted replica delivers it', 30_000);
  const all = dispatches(rx);
  assertLinked(t, all, accepting);
  const delivered = all.find((s) => s.attributes['hookgate.outcome'] === 'delivered')!;
  t.equal(delivered.attributes['hookgate.idempotency_key'], accepting.attributes['hookgate.idempotency_key'], 'the same delivery');
  t.equal(up.received.length, 1);
  t.equal(up.received[0]!.headers.traceparent, spanCtx(delivered), "the application gets the restarted replica's dispatch span's context");
});

t.test('spool with tracing off: the stored request\'s traceparent reaches the application unchanged', async (t) => {
  const up = await laterUpstream();
  t.teardown(() => up.close());
  await up.start();
  const file = spoolSetup(t, up.url);
  const p = spawnHookgate(t, ['run', '--config', file], { TRACING_SECRET: SECRET, OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
  const { traffic } = await p.started();
  const caller = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;
  t.same(await post(traffic, delivery(`evt_spool_off_${Date.now()}`, { traceparent: caller, tracestate: 'vendor=opaque' }), '/spooled'), { status: 200, outcome: 'spooled' });
  await until(() => up.received.length === 1, 'the application received the delivery', 20_000);
  t.equal(up.received[0]!.headers.traceparent, caller, "the caller's traceparent, as stored");
  t.equal(up.received[0]!.headers.tracestate, 'vendor=opaque', 'and its tracestate');
});

t.test('hybrid: the synchronous try carries the delivery span\'s context; the delivery it stores is dispatched in a span linked to it', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const up = await laterUpstream([500]);
  t.teardown(() => up.close());
  await up.start();
  const file = spoolSetup(t, up.url);
  const p = spawnHookgate(t, ['run', '--config', file], { TRACING_SECRET: SECRET, OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_BSP_SCHEDULE_DELAY: '50' });
  const { traffic } = await p.started();
  t.same(await post(traffic, delivery(`evt_hybrid_${Date.now()}`, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` }), '/hybrid'), { status: 200, outcome: 'spooled' }, 'the 500 is stored, not failed back');
  await until(() => dispatches(rx).some((s) => s.attributes['hookgate.outcome'] === 'delivered'), 'the stored delivery is dispatched', 30_000);
  const accepting = rx.spans.find((s) => s.name === 'hookgate.delivery')!;
  t.equal(accepting.parentSpanId, CALLER_SPAN, "the delivery span under the caller's");
  t.equal(rx.spans.find((s) => s.name === 'hookgate.forward' && s.parentSpanId === accepting.spanId)?.attributes['http.response.status_code'], 500, 'the synchronous try is its forward span');
  const all = dispatches(rx);
  t.equal(all.length, 1, 'one dispatch');
  assertLinked(t, all, accepting);
  t.equal(all[0]!.attributes['hookgate.attempt'], 2, 'the synchronous try spent the first attempt');
  t.same(up.received.map((r) => r.headers.traceparent), [spanCtx(accepting), spanCtx(all[0]!)], 'the try: the delivery span\'s context; the dispatch: its own');
});
