// maxPending / tenantMaxPending: the top-level values across the whole spool (every route), and a route's
// own where it sets them. Counts of pending + delivering rows at most 1 s old, read once for all
// accepts of that second (one GROUP BY, not a count per delivery), plus what this replica accepted
// since the read (so a burst within the second cannot run far past the bound).
import type { SpoolSettings } from '../config/load.js';
import type { SpoolStore } from './store/types.js';

type Bounds = Pick<SpoolSettings, 'maxPending' | 'tenantMaxPending' | 'spoolMaxPending' | 'spoolTenantMaxPending'>;
/** the keys one delivery counts under: the spool, the tenant across it, the route, the route's tenant */
const keysOf = (route: string, tenant: string) => ['', `\0${tenant}`, route, `${route}\0${tenant}`];

export class PendingCounts {
  /** '' → the spool's total; `\0tenant` → the tenant's across the spool; `route` → the route's; `route\0tenant` → the tenant's on it */
  private counts = new Map<string, number>();
  private readAt = -Infinity;
  private reading: Promise<void> | null = null;

  constructor(private readonly store: SpoolStore, private readonly now: () => number = Date.now, private readonly maxAgeMs = 1000) {}

  /** whether one more delivery of `tenant` fits; 'spool' or 'tenant' names the bound it would break */
  async over(route: string, tenant: string, b: Bounds): Promise<'spool' | 'tenant' | null> {
    if (this.now() - this.readAt > this.maxAgeMs) await this.refresh();
    const [all, tenantAll, routeAll, routeTenant] = keysOf(route, tenant).map((k) => this.counts.get(k) ?? 0) as [number, number, number, number];
    if (all >= b.spoolMaxPending || routeAll >= b.maxPending) return 'spool';
    if (tenantAll >= b.spoolTenantMaxPending || routeTenant >= b.tenantMaxPending) return 'tenant';
    return null;
  }

  /** an accept stored one more */
  added(route: string, tenant: string): void {
    for (const k of keysOf(route, tenant)) this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  private refresh(): Promise<void> {
    this.reading ??= this.store.pendingCounts().then((rows) => {
      const counts = new Map<string, number>();
      for (const r of rows) for (const k of keysOf(r.route, r.tenant)) counts.set(k, (counts.get(k) ?? 0) + r.n);
      this.counts = counts;
      this.readAt = this.now();
    }).finally(() => {
      this.reading = null;
    });
    return this.reading;
  }
}
