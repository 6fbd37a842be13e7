// maxPending / tenantMaxPending, per route: counts of pending + delivering rows at most 1 s old, read once for
// all accepts of that second (one GROUP BY, not a count per delivery), plus what this replica
// accepted since the read (so a burst within the second cannot run far past the bound).
import type { SpoolStore } from './store/types.js';

export class PendingCounts {
  /** `route` → its total; `route\0tenant` → the tenant's */
  private counts = new Map<string, number>();
  private readAt = -Infinity;
  private reading: Promise<void> | null = null;

  constructor(private readonly store: SpoolStore, private readonly now: () => number = Date.now, private readonly maxAgeMs = 1000) {}

  /** whether one more delivery of `tenant` fits; 'spool' or 'tenant' names the bound it would break */
  async over(route: string, tenant: string, maxPending: number, tenantMaxPending: number): Promise<'spool' | 'tenant' | null> {
    if (this.now() - this.readAt > this.maxAgeMs) await this.refresh();
    if ((this.counts.get(route) ?? 0) >= maxPending) return 'spool';
    if ((this.counts.get(`${route}\0${tenant}`) ?? 0) >= tenantMaxPending) return 'tenant';
    return null;
  }

  /** an accept stored one more */
  added(route: string, tenant: string): void {
    for (const k of [route, `${route}\0${tenant}`]) this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  private refresh(): Promise<void> {
    this.reading ??= this.store.pendingCounts().then((rows) => {
      const counts = new Map<string, number>();
      for (const r of rows) {
        counts.set(r.route, (counts.get(r.route) ?? 0) + r.n);
        counts.set(`${r.route}\0${r.tenant}`, r.n);
      }
      this.counts = counts;
      this.readAt = this.now();
    }).finally(() => {
      this.reading = null;
    });
    return this.reading;
  }
}
