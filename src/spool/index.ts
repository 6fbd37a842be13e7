// The spool of one running gateway: its store, the dispatcher and the pending counts. Opened by
// server.ts when a route has `delivery: spool`; the accept stage (accept.ts) and the dispatcher share it.
import type { Config } from '../config/load.js';
import { createUpstream } from '../stages/forward.js';
import type { Pool } from '../stages/upstream-pool.js';
import { Dispatcher, type DispatcherLog } from './dispatcher.js';
import { PendingCounts } from './limits.js';
import { openSpoolStore } from './store/index.js';
import type { SpoolStore } from './store/types.js';
import { spoolMetrics, type SpoolMetrics } from './metrics.js';
import type { Registry } from 'prom-client';
import { memoryStore, type LimitStore } from '../limits/store.js';

export interface Spool {
  readonly store: SpoolStore;
  readonly dispatcher: Dispatcher;
  readonly pending: PendingCounts;
  readonly metrics: SpoolMetrics | null;
  /** SIGTERM: stop claiming, let deliveries in flight finish, close the store */
  close(): Promise<void>;
}

export function spooling(config: Config): boolean {
  return config.routes.some((r) => r.delivery !== 'sync');
}

export async function openSpool(config: () => Config, opts: { log: DispatcherLog; pollMs?: number; sweepMs?: number; dialect?: 'auto' | 'postgres' | 'cockroachdb'; registry?: Registry; rate?: LimitStore }): Promise<Spool> {
  const c = config();
  const store = await openSpoolStore({ url: c.ledger.url, ...(c.ledger.schema ? { schema: c.ledger.schema } : {}), ...(opts.dialect ? { dialect: opts.dialect } : {}) }, opts.log);
  // Its own connections to the upstream: a reload closes the traffic app's pool, not this one.
  const upstream: Pool = createUpstream(c);
  const metrics = opts.registry ? spoolMetrics(opts.registry, store, config) : null;
  const dispatcher = new Dispatcher({
    store, upstream, config, log: opts.log,
    // tenantRate counts: limits.store's (shared through Redis) when given, else this replica's
    rate: opts.rate ?? memoryStore(10_000),
    ...(metrics ? { metrics } : {}),
    ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
    ...(opts.sweepMs !== undefined ? { sweepMs: opts.sweepMs } : {}),
  });
  dispatcher.start();
  return {
    store,
    dispatcher,
    pending: new PendingCounts(store),
    metrics,
    async close() {
      await dispatcher.drain();
      await upstream.close();
      await store.close();
    },
  };
}
