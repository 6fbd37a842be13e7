// Gateways with rate limits (src/limits), the way `hookgate run` builds them, and signed GitHub deliveries.
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import type { Config } from '../../src/config/load.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createLimiters, type LimitersDeps, type LimitersHandle } from '../../src/limits/index.js';
import { startTestGateway, type TestGateway } from './gateway.js';

export const SECRETS = { acme: 'acme-github-secret', globex: 'globex-github-secret', shared: 'shared-github-secret' } as const;
export const ENV = { ACME: SECRETS.acme, GLOBEX: SECRETS.globex, SHARED: SECRETS.shared };

/** Routes used by the limit tests: a tenant from the path, proven by per-tenant secrets; a tenant from the signed body. */
export const ROUTES = [
  { path: '/webhooks/:tenant/github', provider: 'github', tenant: 'param:tenant', secrets: { acme: ['env:ACME'], globex: ['env:GLOBEX'] } },
  { path: '/webhooks/signed-tenant', provider: 'github', tenant: 'json:tenant', secrets: ['env:SHARED'] },
];

export interface LimitedGateway {
  gw: TestGateway;
  limits: LimitersHandle;
  /** what the limiter logged (in `hookgate run` it logs through the gateway's logger) */
  limiterLogs: { level: 'warn' | 'info'; msg: string; fields: object }[];
  close(): Promise<void>;
}

/** Starts a gateway with its own metrics and limiters, as `hookgate run` wires them. */
export async function startLimitedGateway(config: Config, deps: Partial<LimitersDeps> = {}): Promise<LimitedGateway> {
  const metrics = createMetrics({ defaultMetrics: false });
  const limiterLogs: LimitedGateway['limiterLogs'] = [];
  const log = {
    warn: (fields: object, msg: string) => void limiterLogs.push({ level: 'warn', msg, fields }),
    info: (fields: object, msg: string) => void limiterLogs.push({ level: 'info', msg, fields }),
  } as unknown as LimitersDeps['log'];
  const limits = createLimiters(config, { metrics, log, ...deps });
  await limits.ready();
  const gw = await startTestGateway(config, { metrics, limiters: limits.limiters });
  return {
    gw,
    limits,
    limiterLogs,
    close: async () => {
      await gw.close();
      await limits.close();
    },
  };
}

export interface Answer {
  status: number;
  outcome: string | undefined;
  retryAfter: string | undefined;
  body: string;
}

async function send(url: string, body: string, signature: string | undefined, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature ? { 'x-hub-signature-256': signature } : {}), ...headers },
    body,
  });
  return {
    status: res.statusCode,
    outcome: res.headers['hookgate-outcome'] as string | undefined,
    retryAfter: res.headers['retry-after'] as string | undefined,
    body: await res.body.text(),
  };
}

/** A validly signed GitHub delivery for `tenant` on the path route (a new body each time: no duplicates). */
export async function deliver(gwUrl: string, tenant: 'acme' | 'globex', headers: Record<string, string> = {}): Promise<Answer> {
  const body = JSON.stringify({ tenant, id: randomUUID() });
  return send(`${gwUrl}/webhooks/${tenant}/github`, body, await sign(SECRETS[tenant], body), headers);
}

/** A delivery naming `tenant` in the path, signed with the wrong secret. */
export async function forge(gwUrl: string, tenant: string, headers: Record<string, string> = {}): Promise<Answer> {
  const body = JSON.stringify({ tenant, id: randomUUID() });
  return send(`${gwUrl}/webhooks/${tenant}/github`, body, await sign('not-the-secret', body), headers);
}

/** A delivery whose tenant is a field of the signed body (route-wide secret). */
export async function deliverSigned(gwUrl: string, tenant: string): Promise<Answer> {
  const body = JSON.stringify({ tenant, id: randomUUID() });
  return send(`${gwUrl}/webhooks/signed-tenant`, body, await sign(SECRETS.shared, body));
}

/** Sends `n` requests one after another (bounded; no timing involved) and tallies statuses. */
export async function tally(n: number, one: (i: number) => Promise<Answer>): Promise<{ answers: Answer[]; byStatus: Record<number, number> }> {
  const answers: Answer[] = [];
  const byStatus: Record<number, number> = {};
  for (let i = 0; i < n; i++) {
    const a = await one(i);
    answers.push(a);
    byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
  }
  return { answers, byStatus };
}

export async function metricsText(gw: TestGateway): Promise<string> {
  const res = await request(`${gw.adminUrl}/metrics`);
  return res.body.text();
}

/** The value of one sample line of a counter, 0 when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? ([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ? m[2].split(',') : [];
    if (want.every((w) => have.includes(w)) && have.length === want.length) return Number(m[3]);
  }
  return 0;
}
