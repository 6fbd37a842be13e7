// Which tenant goes next (CONTRACT.md, Spool: round-robin over tenants with work due, not first in
// first out over all). Pure: the due rows (oldest first, a few per tenant) and where the rotation
// stopped last time in, the picks and the new position out. The rotation carries across claims, so
// when one slot frees at a time the tenants still take turns.

export interface FairPick<T> {
  picked: T[];
  /** the tenant served last: the next call starts after it */
  cursor: string | undefined;
}

export function pickFair<T extends { tenant: string }>(due: readonly T[], n: number, cursor: string | undefined): FairPick<T> {
  if (n <= 0 || due.length === 0) return { picked: [], cursor };
  // Each tenant's rows in the order given (oldest first).
  const queues = new Map<string, T[]>();
  for (const row of due) {
    const q = queues.get(row.tenant);
    if (q) q.push(row);
    else queues.set(row.tenant, [row]);
  }
  const tenants = [...queues.keys()].sort();
  // Start with the first tenant after the cursor (in name order, wrapping).
  let start = cursor === undefined ? 0 : tenants.findIndex((t) => t > cursor);
  if (start < 0) start = 0;
  const picked: T[] = [];
  let last = cursor;
  for (let i = start; picked.length < n; i = (i + 1) % tenants.length) {
    const t = tenants[i]!;
    const q = queues.get(t)!;
    if (q.length) {
      picked.push(q.shift()!);
      last = t;
    }
    if (picked.length >= due.length) break;
  }
  return { picked, cursor: last };
}
