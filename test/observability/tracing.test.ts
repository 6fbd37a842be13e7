// Traces (CONTRACT.md, Operations) end to end: `hookgate run` as a real process, configured only by
// the standard OTEL_* variables, exporting to a real OTLP/HTTP receiver started here, which decodes
// what the exporter sends (OTLP JSON). Asserted: the span tree, the caller's traceparent as parent,
// the traceparent the upstream received, no secret/body/header value in the export, the spans of the
// last deliveries exported on SIGTERM, and, with tracing off, no OpenTelemetry module in the process.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import Stripe from 'stripe';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { BIN, spawnHookgate, until } from '../helpers/hookgate-process.js';
import { startReceiver } from '../helpers/otlp-receiver.js';

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

async function post(url: string, d: { payload: string; headers: Record<string, string> }) {
  const res = await request(`${url}/hooks`, { method: 'POST', headers: d.headers, body: d.payload });
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
