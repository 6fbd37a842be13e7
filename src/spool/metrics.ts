// The spool's Prometheus series (CONTRACT.md, Spool: metrics), on the gateway's registry. Depth and
// oldest age are read from the store when scraped, so every replica reports the whole spool;
// counters are this replica's.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Config } from '../config/load.js';
import type { SpoolStats, SpoolStore } from './store/types.js';
import type { DispatchClass } from './schedule.js';

/** How long a scrape's read of the live states serves the other gauge of the same scrape. */
export const LIVE_REUSE_MS = 1_000;
/** How often the terminal states are counted again (a read of the whole table). */
export const TERMINAL_EVERY_MS = 60_000;

export interface SpoolMetrics {
  dispatched(route: string, result: DispatchClass): void;
  dead(route: string): void;
  rejected(route: string, reason: 'spool_full' | 'ledger_unavailable'): void;
  delivered(lagSeconds: number): void;
  takeover(): void;
}

export function spoolMetrics(registry: Registry, store: SpoolStore, config: () => Config, now: () => number = Date.now): SpoolMetrics {
  const registers = [registry];
  const tenantLabel = (t: string) => (config().knownTenants.has(t) ? t : 'other');
  // Live states (pending, delivering) and the oldest age come from the ready index, once a scrape for
  // both gauges. The terminal states are every row kept for replay (keepDelivered): counting them
  // reads the whole table (docs/spool.md), so they are counted at most once a minute and on their
  // own: a slow or failed count leaves them out, never the live states or the oldest age.
  let live: { at: number; read: Promise<SpoolStats | null> } | null = null;
  const liveStats = () => {
    const t = now();
    if (!live || t - live.at >= LIVE_REUSE_MS) live = { at: t, read: store.stats(true).catch(() => null) };
    return live.read;
  };
  let terminal: { at: number; counts: SpoolStats['counts'] } | null = null;
  let terminalRead: Promise<void> | null = null;
  const terminalCounts = async (): Promise<SpoolStats['counts']> => {
    if (!terminal || now() - terminal.at >= TERMINAL_EVERY_MS) {
      terminalRead ??= store.stats().then(
        (s) => { terminal = { at: now(), counts: s.counts.filter((c) => c.state !== 'pending' && c.state !== 'delivering') }; },
        () => { terminal = { at: now(), counts: [] }; },
      ).finally(() => { terminalRead = null; });
      await terminalRead;
    }
    return terminal?.counts ?? [];
  };
  new Gauge({
    name: 'hookgate_spool_depth', help: 'Deliveries in the spool by route, tenant and state (delivered, dead and cancelled counted at most once a minute).', labelNames: ['route', 'tenant', 'state'] as const, registers,
    async collect() {
      const [stats, done] = await Promise.all([liveStats(), terminalCounts()]);
      this.reset();
      if (!stats) return;
      const sums = new Map<string, { route: string; tenant: string; state: string; n: number }>();
      for (const c of [...stats.counts, ...done]) {
        const tenant = tenantLabel(c.tenant);
        const k = `${c.route}\0${tenant}\0${c.state}`;
        const prev = sums.get(k);
        if (prev) prev.n += c.n;
        else sums.set(k, { route: c.route, tenant, state: c.state, n: c.n });
      }
      for (const s of sums.values()) this.set({ route: s.route, tenant: s.tenant, state: s.state }, s.n);
    },
  });
  new Gauge({
    name: 'hookgate_spool_oldest_pending_seconds', help: 'Age of the oldest pending or delivering delivery, by route.', labelNames: ['route'] as const, registers,
    async collect() {
      const stats = await liveStats();
      this.reset();
      for (const o of stats?.oldestPendingMs ?? []) this.set({ route: o.route }, o.ms / 1000);
    },
  });
  const dispatches = new Counter({ name: 'hookgate_spool_dispatches_total', help: 'Every try at the upstream, by route and result (only failed spends an attempt).', labelNames: ['route', 'result'] as const, registers });
  const dead = new Counter({ name: 'hookgate_spool_dead_total', help: 'Deliveries that went dead, by route.', labelNames: ['route'] as const, registers });
  const rejected = new Counter({ name: 'hookgate_spool_rejected_total', help: 'Deliveries a spool route refused to store, by route and reason.', labelNames: ['route', 'reason'] as const, registers });
  const lag = new Histogram({ name: 'hookgate_spool_delivery_lag_seconds', help: 'From accepted to delivered.', buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600, 21600, 86400], registers });
  const takeovers = new Counter({ name: 'hookgate_spool_takeovers_total', help: 'Deliveries claimed after the lease of another dispatch ran out (its replica died or stalled).', registers });
  return {
    takeover: () => takeovers.inc(),
    dispatched: (route, result) => dispatches.inc({ route, result }),
    dead: (route) => dead.inc({ route }),
    rejected: (route, reason) => rejected.inc({ route, reason }),
    delivered: (s) => lag.observe(s),
  };
}
