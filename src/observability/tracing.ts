// Traces (CONTRACT.md, Operations): OpenTelemetry, off unless the standard OTEL_* variables turn it on.
//
// Off: this module imports nothing of OpenTelemetry at run time (its imports below are types only),
// no hook is added to the routes (app.ts adds traceRoute as an onRoute hook only when tracing is
// on), and what the stages do is read `request.hg.trace`, which stays undefined.
// On: startTracing() imports the API, the trace SDK and the OTLP/HTTP exporter once, at start.
//
// Spans: `hookgate.delivery` per delivery (its parent the caller's `traceparent`, W3C), with children
// `hookgate.verify`, `hookgate.claim`, `hookgate.forward`, `hookgate.settle`. The upstream receives
// the delivery span's context in `traceparent` (the caller's is replaced). Attributes are names,
// codes and numbers hookgate chose or computed: never a body, a header value or a secret.
import type { Attributes, Context, Link, Span, SpanContext, TextMapPropagator, Tracer } from '@opentelemetry/api';
import type { FastifyRequest, RouteOptions, onRequestHookHandler, preHandlerHookHandler, preValidationHookHandler } from 'fastify';
import type { Delivery } from '../stages/context.js';

/** One traced delivery (or spool dispatch): its span, the context its children hang from, the child open now. */
export interface DeliveryTrace {
  readonly span: Span;
  readonly ctx: Context;
  /** a child started by a callback stage that answered instead of calling done: ended with the delivery */
  open?: Span;
}

/** A span context as a spool entry stores it (W3C trace-context header values). */
export interface StoredSpanContext {
  traceparent: string;
  tracestate?: string;
}

interface Active {
  tracer: Tracer;
  propagator: TextMapPropagator;
  api: typeof import('@opentelemetry/api');
  shutdown(): Promise<void>;
}

let active: Active | null = null;

export class TracingConfigError extends Error {}

const truthy = (v: string | undefined) => (v ?? '').trim().toLowerCase();

/**
 * Whether the environment asks for traces, as the OpenTelemetry SDK specification reads it:
 * OTEL_SDK_DISABLED=true wins; OTEL_TRACES_EXPORTER=none is off and any other value is on; otherwise
 * an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or its _TRACES_ form) turns it on.
 */
export function tracingWanted(env: NodeJS.ProcessEnv): boolean {
  if (truthy(env.OTEL_SDK_DISABLED) === 'true') return false;
  const exporter = truthy(env.OTEL_TRACES_EXPORTER);
  if (exporter) return exporter !== 'none';
  return !!(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/** Configuration problems, each naming the variable and what to set instead (empty: fine). */
export function tracingProblems(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  const exporter = truthy(env.OTEL_TRACES_EXPORTER);
  if (exporter && exporter !== 'none' && exporter !== 'otlp')
    out.push(`OTEL_TRACES_EXPORTER=${exporter}: hookgate exports traces over OTLP/HTTP only; set otlp (or none to turn tracing off)`);
  const name = truthy(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = truthy(env[name]);
  if (protocol && protocol !== 'http/json' && protocol !== 'http/protobuf')
    out.push(`${name}=${protocol}: hookgate sends OTLP over HTTP (JSON); set http/json, or leave it unset`);
  return out;
}

export interface TracingLog {
  warn(obj: object, msg: string): void;
}

/**
 * Starts tracing when the environment asks for it (see tracingWanted), else does nothing and loads
 * nothing. Throws TracingConfigError for a setting hookgate cannot honour. The SDK reads the other
 * OTEL_* variables itself (endpoint, headers, timeout, OTEL_BSP_*, OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES).
 */
export async function startTracing(env: NodeJS.ProcessEnv, log: TracingLog): Promise<boolean> {
  if (active || !tracingWanted(env)) return active !== null;
  const problems = tracingProblems(env);
  if (problems.length) throw new TracingConfigError(problems.join('; '));
  const [api, sdk, otlp, resources, core] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
  ]);
  const protocol = truthy(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) || truthy(env.OTEL_EXPORTER_OTLP_PROTOCOL);
  if (protocol === 'http/protobuf') log.warn({ protocol }, 'tracing: spans are sent as OTLP/HTTP JSON (an OpenTelemetry collector accepts both on the same port)');
  // Export failures would otherwise go nowhere: one warning line each, the message only.
  api.diag.setLogger(
    {
      error: (m: string) => log.warn({ otel: String(m).slice(0, 300) }, 'tracing: OpenTelemetry reported an error'),
      warn: (m: string) => log.warn({ otel: String(m).slice(0, 300) }, 'tracing: OpenTelemetry reported a warning'),
      info: () => {}, debug: () => {}, verbose: () => {},
    },
    api.DiagLogLevel.WARN,
  );
  // service.name is hookgate unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES says otherwise.
  const resource = resources.defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': 'hookgate' }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new sdk.BasicTracerProvider({ resource, spanProcessors: [new sdk.BatchSpanProcessor(new otlp.OTLPTraceExporter())] });
  active = {
    api,
    tracer: provider.getTracer('hookgate'),
    propagator: new core.W3CTraceContextPropagator(),
    shutdown: () => provider.shutdown(),
  };
  return true;
}

/** Whether startTracing turned tracing on (asked once when the routes are built, never per request). */
export function tracingActive(): boolean {
  return active !== null;
}

/** Exports the spans still buffered (the drain calls it before exit); bounded so an unreachable collector cannot hold the exit. */
export async function stopTracing(ms = 5_000): Promise<void> {
  const a = active;
  if (!a) return;
  // `active` stays: a span still open ends into a shut-down provider, which drops it.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([a.shutdown().catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

// ---- the stages' calls (made only when request.hg.trace is set, i.e. tracing is on) -------------

/**
 * Fastify onRoute hook (app.ts adds it to the routes' scope only when tracing is on): the route's
 * stages as src/pipeline.ts built them, plus the delivery span started after the method check
 * (which sets request.hg), and the verify hook and the claim hook each in a child span. Done here
 * rather than in pipeline.ts so that a gateway without tracing runs exactly the pipeline's stages.
 */
export function traceRoute(opts: RouteOptions): void {
  const list = <T>(h: T | T[] | undefined): T[] => (h === undefined ? [] : Array.isArray(h) ? [...h] : [h]);
  const onRequest = list(opts.onRequest);
  onRequest.splice(Math.min(1, onRequest.length), 0, startDeliveryTrace());
  opts.onRequest = onRequest;
  // The first preValidation hook is the signature check (any after it, e.g. payload rules, run inside the delivery span).
  const preValidation = list(opts.preValidation);
  if (preValidation.length) preValidation[0] = traced('hookgate.verify', preValidation[0] as preValidationHookHandler);
  opts.preValidation = preValidation;
  // The claim is src/stages/claim.ts's `function claim` (the tracing test fails if it goes missing).
  opts.preHandler = list(opts.preHandler).map((h) => (h.name === 'claim' ? traced('hookgate.claim', h as preHandlerHookHandler) : h));
}

/** onRequest, after the method check: starts the delivery span. */
export function startDeliveryTrace(): onRequestHookHandler {
  return function traceDelivery(request, _reply, done) {
    const a = active;
    const d = request.hg;
    if (a && d) {
      const parent = a.propagator.extract(a.api.ROOT_CONTEXT, request.headers, a.api.defaultTextMapGetter);
      const attributes: Attributes = { 'hookgate.route': d.route.path, 'hookgate.provider': d.route.provider, 'http.request.method': request.method };
      const span = a.tracer.startSpan('hookgate.delivery', { kind: a.api.SpanKind.SERVER, attributes }, parent);
      d.trace = { span, ctx: a.api.trace.setSpan(parent, span) };
    }
    done();
  };
}

/** A child of the delivery (or dispatch) span. */
export function childSpan(t: DeliveryTrace, name: string, attributes?: Attributes): Span {
  return active!.tracer.startSpan(name, attributes ? { attributes } : {}, t.ctx);
}

/**
 * A callback stage (verify, claim) in a child span: it ends when the stage calls done, or, when the
 * stage answered instead (a refusal, a duplicate), with the delivery. Added only when tracing is on.
 */
export function traced<H extends preValidationHookHandler | preHandlerHookHandler>(name: string, hook: H): H {
  const wrapped = function (this: unknown, request: FastifyRequest, reply: unknown, done: (err?: Error) => void) {
    const t = request.hg?.trace;
    if (!t) return (hook as Function).call(this, request, reply, done);
    const span = childSpan(t, name);
    t.open = span;
    (hook as Function).call(this, request, reply, (err?: Error) => {
      if (t.open === span) t.open = undefined;
      span.end();
      done(err);
    });
  };
  return wrapped as unknown as H;
}

/** `traceparent` (and `tracestate`) for the upstream: the delivery span's context. */
export function traceHeaders(t: DeliveryTrace): string[] {
  const carrier = spanContextOf(t);
  if (!carrier) return [];
  return carrier.tracestate ? ['traceparent', carrier.traceparent, 'tracestate', carrier.tracestate] : ['traceparent', carrier.traceparent];
}

/** The span's context as W3C header values: what the spool stores to link its dispatch to the accepting span. */
export function spanContextOf(t: DeliveryTrace | undefined): StoredSpanContext | undefined {
  const a = active;
  if (!a || !t) return undefined;
  const carrier: Record<string, string> = {};
  a.propagator.inject(t.ctx, carrier, a.api.defaultTextMapSetter);
  if (!carrier.traceparent) return undefined;
  return carrier.tracestate ? { traceparent: carrier.traceparent, tracestate: carrier.tracestate } : { traceparent: carrier.traceparent };
}

/** The delivery's attributes once it is answered, and the end of its spans (app.ts's onResponse). */
export function endDeliveryTrace(d: Delivery, outcome: string, status: number): void {
  const t = d.trace;
  if (!t) return;
  d.trace = undefined;
  setDeliveryAttributes(t.span, d, outcome, status);
  if (t.open) {
    t.open.setAttribute('hookgate.outcome', outcome);
    t.open.end();
    t.open = undefined;
  }
  t.span.end();
}

function setDeliveryAttributes(span: Span, d: { tenant?: string | undefined; key?: string | undefined; attempt?: number | undefined }, outcome: string, status?: number): void {
  span.setAttribute('hookgate.outcome', outcome);
  if (status !== undefined) span.setAttribute('http.response.status_code', status);
  if (d.tenant !== undefined) span.setAttribute('hookgate.tenant', d.tenant);
  if (d.key !== undefined) span.setAttribute('hookgate.idempotency_key', d.key);
  if (d.attempt !== undefined) span.setAttribute('hookgate.attempt', d.attempt);
  // An outcome hookgate answered by itself with a 5xx is an error of this span (4xx are the caller's).
  if (status !== undefined && status >= 500 && outcome !== 'forwarded' && active) span.setStatus({ code: active.api.SpanStatusCode.ERROR, message: outcome });
}

// ---- the spool's dispatches (src/spool/dispatcher.ts) -------------------------------------------

export interface DispatchInfo {
  route: string;
  provider: string;
  tenant?: string;
  key?: string;
  attempt?: number;
}

/**
 * For the spool: a `hookgate.dispatch` span for one later dispatch of a spooled delivery, a root of
 * its own trace LINKED to the accepting request's delivery span (`stored`, from spanContextOf when
 * the delivery was spooled). null when tracing is off: the spool then does nothing more.
 * Children as for a delivery: childSpan(t, 'hookgate.forward'); the upstream gets traceHeaders(t).
 * End it with endDispatchTrace.
 */
export function startDispatchTrace(stored: StoredSpanContext | undefined, info: DispatchInfo): DeliveryTrace | null {
  const a = active;
  if (!a) return null;
  const links: Link[] = [];
  if (stored) {
    const linked: SpanContext | undefined = a.api.trace.getSpanContext(a.propagator.extract(a.api.ROOT_CONTEXT, { ...stored }, a.api.defaultTextMapGetter));
    if (linked && a.api.isSpanContextValid(linked)) links.push({ context: linked });
  }
  const attributes: Attributes = { 'hookgate.route': info.route, 'hookgate.provider': info.provider };
  if (info.tenant !== undefined) attributes['hookgate.tenant'] = info.tenant;
  if (info.key !== undefined) attributes['hookgate.idempotency_key'] = info.key;
  if (info.attempt !== undefined) attributes['hookgate.attempt'] = info.attempt;
  const span = a.tracer.startSpan('hookgate.dispatch', { kind: a.api.SpanKind.INTERNAL, attributes, links, root: true });
  return { span, ctx: a.api.trace.setSpan(a.api.ROOT_CONTEXT, span) };
}

/** Ends a dispatch span with its outcome (delivered, failed, not_reached, overloaded) and the upstream's status; any but delivered is an error of the span. */
export function endDispatchTrace(t: DeliveryTrace, outcome: string, status?: number): void {
  setDeliveryAttributes(t.span, {}, outcome, status);
  if (outcome !== 'delivered' && active) t.span.setStatus({ code: active.api.SpanStatusCode.ERROR, message: outcome });
  t.span.end();
}
