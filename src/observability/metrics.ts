// Prometheus metrics (CONTRACT.md, Operations). One registry per gateway instance, so tests can run
// several gateways in one process. Label values are bounded: routes and tenants come from the config.
// What every delivery or refusal touches is counted in plain numbers (fast-metrics.ts); the rest is
// prom-client's own.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter, FastGauge, FastHistogram } from './fast-metrics.js';

export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'hookgate_' });
  const registers = [registry];
  return {
    registry,
    requests: new FastCounter({ name: 'hookgate_requests_total', help: 'Requests by route, provider, tenant and outcome (the hookgate-outcome code).', labelNames: ['route', 'provider', 'tenant', 'outcome'] as const, registers }),
    requestDuration: new FastHistogram({ name: 'hookgate_request_duration_seconds', help: 'Whole request, from arrival to the answer.', labelNames: ['outcome'] as const, buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers }),
    upstreamDuration: new FastHistogram({ name: 'hookgate_upstream_duration_seconds', help: 'Time until the upstream answered with headers.', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers }),
    ledgerDuration: new FastHistogram({ name: 'hookgate_ledger_duration_seconds', help: 'Ledger operations.', labelNames: ['op'] as const, buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers }),
    ledgerErrors: new Counter({ name: 'hookgate_ledger_errors_total', help: 'Ledger operations that failed after their retries.', registers }),
    cacheHits: new FastCounter({ name: 'hookgate_cache_hits_total', help: 'Duplicates of settled deliveries answered from the hot LRU.', registers }),
    secretMatches: new FastCounter({ name: 'hookgate_secret_matches_total', help: 'Which secret of a route verified a delivery (index 0 is the first listed): an index that stays at 0 can be retired.', labelNames: ['route', 'index'] as const, registers }),
    rateLimited: new FastCounter({ name: 'hookgate_rate_limited_total', help: 'Requests refused by a rate limit, by tier (unverified or tenant).', labelNames: ['tier', 'tenant'] as const, registers }),
    limiterDegraded: new Counter({ name: 'hookgate_limiter_store_errors_total', help: 'Times the shared limit store was unreachable and limits fell back to this replica.', registers }),
    // Not registered here: createLimiters registers it only for a shared (Redis) store, so with the
    // memory store the series is absent instead of a misleading constant (docs/rate-limits.md).
    limiterStoreUp: new Gauge({ name: 'hookgate_limiter_store_up', help: '1 while rate limits are counted in the shared (Redis) store, 0 while this replica counts locally because it is unreachable (or not connected yet). Absent with the memory store.', registers: [] }),
    inFlight: new FastGauge({ name: 'hookgate_deliveries_in_flight', help: 'Deliveries being forwarded now.', registers }),
    // Set by each /readyz answer (the kubelet's probe, every 10 s by default), not by a timer of their own.
    ready: new Gauge({ name: 'hookgate_ready', help: '1 when /readyz last answered ready, 0 when it answered 503 (or has not been asked yet).', registers }),
    readinessChanges: new Counter({ name: 'hookgate_readiness_changes_total', help: 'Times /readyz changed its answer (ready to not ready or back); the first answer is not a change.', registers }),
    reloads: new Counter({ name: 'hookgate_config_reloads_total', help: 'Configuration reloads by result.', labelNames: ['result'] as const, registers }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
