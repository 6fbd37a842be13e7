// createLimiters: the two limit stages of the pipeline over one store (memory, or Redis shared by the
// replicas with a per-replica fallback). Built once per process: the store outlives config reloads,
// the rates do not (reconfigure swaps them; `limits.store` itself changes only on restart).
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { Metrics } from '../observability/metrics.js';
import type { Limiters } from '../pipeline.js';
import { limitTenant, limitUnverified, type LimitSettings } from './hooks.js';
import { describeStore, sharedStore, type SharedStore } from './shared.js';
import { memoryStore, type LimitStore } from './store.js';

export { describeStore } from './shared.js';

export interface LimitersDeps {
  metrics: Metrics;
  log: Pick<Logger, 'warn' | 'info'>;
  /** prefix of every Redis key; default `hookgate:rl:` (tests use their own) */
  keyPrefix?: string;
  /** Redis connect and command timeouts (ms); short, so an outage costs no request more than this */
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** LRU entries of each memory store (addresses, tenants); default 100000 */
  memoryEntries?: number;
}

export interface LimitersHandle {
  /** the hooks for startGateway / buildApp; their reconfigure follows config reloads */
  limiters: Limiters & { reconfigure(config: Config): void };
  /** `memory`, or the state of the shared store: `shared`, `local` (outage), `starting` */
  state(): 'memory' | SharedStore['state'];
  /** counts for the spool's `tenantRate` (deliveries to the upstream), shared like the tenant tier */
  dispatch: LimitStore;
  /** resolves when the store is usable: at once for memory, after the first Redis connection attempt otherwise */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export function settingsOf(config: Config): LimitSettings {
  return { unverified: config.limits.unverified, tenants: config.limits.tenants, knownTenants: config.knownTenants };
}

export function createLimiters(config: Config, deps: LimitersDeps): LimitersHandle {
  let settings = settingsOf(config);
  const current = () => settings;
  const entries = deps.memoryEntries ?? 100_000;
  // One memory store a tier: a flood of addresses evicting entries must not reset tenants' counts.
  const localUnverified = memoryStore(entries);
  const localTenants = memoryStore(entries);
  const localDispatch = memoryStore(entries);

  let shared: SharedStore | null = null;
  let unverified: LimitStore = localUnverified;
  let tenants: LimitStore = localTenants;
  let dispatch: LimitStore = localDispatch;
  if (config.limits.store !== 'memory') {
    const gauge = deps.metrics.limiterStoreUp;
    if (!deps.metrics.registry.getSingleMetric('hookgate_limiter_store_up')) deps.metrics.registry.registerMetric(gauge);
    shared = sharedStore({
      url: config.limits.store,
      keyPrefix: deps.keyPrefix ?? 'hookgate:rl:',
      log: deps.log,
      onFallback: () => deps.metrics.limiterDegraded.inc(),
      // 0 while starting too: until the first connection, decisions are local.
      onState: (state) => gauge.set(state === 'shared' ? 1 : 0),
      connectTimeoutMs: deps.connectTimeoutMs,
      commandTimeoutMs: deps.commandTimeoutMs,
    });
    unverified = shared.withFallback(localUnverified);
    tenants = shared.withFallback(localTenants);
    dispatch = shared.withFallback(localDispatch);
  }

  return {
    limiters: {
      unverified: limitUnverified(unverified, current, deps.metrics),
      tenant: limitTenant(tenants, current, deps.metrics),
      // The rates and labels only: a changed limits.store is reported by the reload (run.ts) and
      // takes effect on restart, since the connection is the process's.
      reconfigure(next) {
        settings = settingsOf(next);
      },
    },
    dispatch,
    state: () => (shared ? shared.state : 'memory'),
    ready: () => (shared ? shared.ready() : Promise.resolve()),
    async close() {
      await shared?.close();
      await Promise.all([localUnverified.close(), localTenants.close(), localDispatch.close()]);
    },
  };
}

export function describeLimitStore(store: string): string {
  return store === 'memory' ? 'memory' : describeStore(store);
}
