// `hookgate check`: every problem with its field path, the routes it would serve (with their payload
// rules: every schema is compiled), the warnings. Never a secret.
import { ConfigError, loadConfigFile } from '../config/load.js';
import type { Io } from './main.js';

export function checkCommand(file: string, io: Io): number {
  try {
    const { config, warnings } = loadConfigFile(file, io.env);
    io.out(`${file}: valid (mode ${config.mode}, ledger ${config.ledger.url.startsWith('postgres') ? 'postgres' : config.ledger.url.split(':')[0]}, limits ${config.limits.store.startsWith('redis') ? 'redis' : config.limits.store})\n`);
    io.out('routes:\n');
    for (const r of config.routes) {
      const tenant = r.tenant.kind === 'literal' ? r.tenant.value : `${r.tenant.kind}:${r.tenant.name}`;
      const secrets = r.keys instanceof Map ? [...r.keys].map(([t, k]) => `${t}: ${k.length}`).join(', ') : `${(r.keys as readonly unknown[]).length}`;
      const ns = r.namespace === r.path ? '' : ` namespace=${r.namespace}`;
      // keys fetched at run time (a JWKS URL; never a secret) and the subscription probe answered
      const jwks = r.options.jwt?.jwksUrl ? ` keys=${r.options.jwt.jwksUrl.href}` : '';
      const probe = r.handshake ? ` handshake=${r.handshake.def.kind}` : '';
      const p = r.payload;
      const payload = p ? ` payload=${[p.schema && `schema:${p.schema.source}`, p.tenantField && `tenantField:json:${p.tenantField.path}`, p.maxDepth !== null && `maxDepth:${p.maxDepth}`].filter(Boolean).join(',')}` : '';
      const delivery = r.spool ? ` delivery=${r.delivery} (acceptStatus ${r.spool.acceptStatus}, concurrency ${r.spool.concurrency}, ${r.spool.retryMs.length} retries, resign ${r.spool.resign ? 'on' : 'off'})` : '';
      io.out(`  ${[...r.methods].join(',')} ${r.path} → ${r.forwardTo ?? r.path}  provider=${r.provider} tenant=${tenant} secrets=${secrets}${jwks}${probe}${ns}${payload}${delivery}\n`);
    }
    for (const w of warnings) io.out(`warning: ${w}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`${file}: invalid\n`);
    for (const p of err.problems) io.err(`  ${p}\n`);
    return 1;
  }
}
