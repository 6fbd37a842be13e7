// What `check` (and every load) refuses in `limits` beyond the schema's shapes: a store URL that does
// not parse, and tenant names that no request can ever carry (the tenant stage accepts only this alphabet).
import { TENANT, TENANT_RULE } from './tenant-name.js';

export function limitProblems(store: string, tenantNames: Iterable<string>): string[] {
  const problems: string[] = [];
  if (store !== 'memory') {
    let host = '';
    try {
      host = new URL(store).hostname;
    } catch {
      // reported below
    }
    // Only what the URL is, never the URL itself: it may carry a password.
    if (!host) problems.push('limits.store: expected memory or redis://HOST:PORT, got a URL without a host that cannot be parsed');
  }
  for (const name of tenantNames)
    if (name !== '*' && !TENANT.test(name)) problems.push(`limits.tenants["${name}"]: a tenant name is ${TENANT_RULE}, so no request can carry this one`);
  return problems;
}
