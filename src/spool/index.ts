// The spool of one running gateway: its store, the dispatcher and the pending counts. Opened by
// server.ts when a route has `delivery: spool`; the accept stage (accept.ts) and the dispatcher share it.
import type { Config } from '../config/load.js';
import { createUpstream } from '../stages/forward.js';
import type { Pool } from '../stages/upstream-pool.js';
import { Dispatcher, type DispatcherLog } from './dispatcher.js';
import { PendingCounts } from './limits.js';
import { openSpoolStore } from './store/index.js';
import type { SpoolStore } from './store/types.js';

export interface Spool {
  readonly store: SpoolStore;
  readonly dispatcher: Dispatcher;
  readonly pending: PendingCounts;
  /** SIGTERM: stop claiming, let deliveries in flight finish, close the store */
  close(): Promise<void>;
}

export function spooling(config: Config): boolean {
  return config.routes.some((r) => r.delivery === 'spool');
}

export async function openSpool(config: () => Config, opts: { log: DispatcherLog; pollMs?: number; dialect?: 'auto' | 'postgres' | 'cockroachdb' }): Promise<Spool> {
  const c = config();
  const store = await openSpoolStore({ url: c.ledger.url, ...(c.ledger.schema ? { schema: c.ledger.schema } : {}), ...(opts.dialect ? { dialect: opts.dialect } : {}) }, opts.log);
  // Its own connections to the upstream: a reload closes the traffic app's pool, not this one.
  const upstream: Pool = createUpstream(c);
  const dispatcher = new Dispatcher({ store, upstream, config, log: opts.log, ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}) });
  dispatcher.start();
  return {
    store,
    dispatcher,
    pending: new PendingCounts(store),
    async close() {
      await dispatcher.drain();
      await upstream.close();
      await store.close();
    },
  };
}
