// src/observability/tracing.ts in process: when the environment turns tracing on, and the hook the
// spool calls for a later dispatch (a span of its own trace, linked to the accepting request's span),
// exported to a real OTLP/HTTP receiver.
import t from 'tap';
import { childSpan, endDispatchTrace, spanContextOf, startDispatchTrace, startTracing, stopTracing, traceHeaders, tracingActive, tracingProblems, tracingWanted } from '../../src/observability/tracing.js';
import { startReceiver } from '../helpers/otlp-receiver.js';

t.test('tracingWanted reads the standard variables', async (t) => {
  const cases: [NodeJS.ProcessEnv, boolean][] = [
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }, true],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, false],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, false],
    [{ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }, false],
    [{ OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, true],
  ];
  for (const [env, want] of cases) t.equal(tracingWanted(env), want, JSON.stringify(env));
  t.same(tracingProblems({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }), [], 'protobuf asked: accepted (sent as JSON, with a warning)');
  t.match(tracingProblems({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }), [/^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc: .*http\/json/]);
  t.match(tracingProblems({ OTEL_TRACES_EXPORTER: 'console' }), [/OTEL_TRACES_EXPORTER=console/]);
});

t.test('the spool\'s dispatch span: its own trace, linked to the accepting span, with forward as its child', async (t) => {
  t.equal(startDispatchTrace({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }, { route: '/hooks', provider: 'stripe' }), null, 'tracing off: null, nothing to do');
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  // The SDK and the exporter read their settings from process.env.
  process.env.OTEL_BSP_SCHEDULE_DELAY = '20';
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = rx.url;
  const warnings: string[] = [];
  t.equal(await startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, { warn: (_o, m) => warnings.push(m) }), true);
  t.ok(tracingActive());
  t.match(warnings, [/sent as OTLP\/HTTP JSON/]);

  const accepted = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
  const d = startDispatchTrace(accepted, { route: '/hooks', provider: 'stripe', tenant: 'acme', key: 'ns|acme|id:evt_1', attempt: 2 })!;
  const fwd = childSpan(d, 'hookgate.forward');
  fwd.end();
  const headers = traceHeaders(d);
  const own = spanContextOf(d)!;
  endDispatchTrace(d, 'forwarded', 200);
  const lost = startDispatchTrace({ traceparent: 'not-a-traceparent' }, { route: '/hooks', provider: 'stripe' })!;
  endDispatchTrace(lost, 'upstream_unavailable', 502);
  await stopTracing();

  const dispatch = rx.spans.filter((s) => s.name === 'hookgate.dispatch');
  t.equal(dispatch.length, 2, 'both exported by stopTracing');
  const [a, b] = [dispatch.find((s) => s.attributes['hookgate.outcome'] === 'forwarded')!, dispatch.find((s) => s.attributes['hookgate.outcome'] === 'upstream_unavailable')!];
  t.notOk(a.parentSpanId, 'a root: the dispatch is not a child of the request that ended long ago');
  t.not(a.traceId, '4bf92f3577b34da6a3ce929d0e0e4736', 'in a trace of its own');
  t.same(a.links?.map((l) => [l.traceId, l.spanId]), [['4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7']], 'linked to the accepting span');
  t.same(a.attributes, { 'hookgate.route': '/hooks', 'hookgate.provider': 'stripe', 'hookgate.tenant': 'acme', 'hookgate.idempotency_key': 'ns|acme|id:evt_1', 'hookgate.attempt': 2, 'hookgate.outcome': 'forwarded', 'http.response.status_code': 200 });
  t.equal(rx.spans.find((s) => s.name === 'hookgate.forward')?.parentSpanId, a.spanId, 'forward is its child');
  t.same(headers, ['traceparent', `00-${a.traceId}-${a.spanId}-01`], 'the upstream would get the dispatch span\'s context');
  t.same(own, { traceparent: `00-${a.traceId}-${a.spanId}-01` });
  t.same(b.links ?? [], [], 'an unreadable stored context: no link, still a span');
});
