// docs/providers.md, generated from the registry (`npm run docs:providers`; a test fails when the file
// differs): the same data as `hookgate providers`, one section per provider with a minimal route.
import { getScheme } from '../providers/index.js';
import { JWT_PROVIDERS } from '../providers/jwt-providers.js';
import { LEFT_OUT } from '../providers/left-out.js';
import { providerListing, type ProviderListing } from './providers.js';

const SECRET_FORM: Record<ProviderListing['secret'], string> = {
  utf8: 'the secret as the provider shows it',
  hex: 'the hex key as the provider shows it (hex-decoded into the key)',
  base64: 'the base64 key as the provider shows it (base64-decoded into the key)',
  whsec: '`whsec_` followed by base64, as the provider shows it',
  'public-key': "the provider's public key (verification only)",
};

const env = (name: string) => `${name.toUpperCase().replace(/-/g, '_')}_SECRET`;
const code = (s: string) => '`' + s.replace(/`/g, "'") + '`';

/** The `jwt:` block a minimal route needs (the audience and issuer a provider's tokens must name), or null. */
function jwtBlock(name: string): string | null {
  const def = JWT_PROVIDERS[name];
  if (!def) return null;
  if (def.algorithms.length === 0) return '    jwt: { token: bearer, algorithms: [RS256], jwksUrl: "https://issuer.example.com/.well-known/jwks.json" }';
  const parts = [
    ...(def.issuerRequired ? ['issuer: "https://sts.windows.net/<tenant id>/"'] : []),
    ...(def.audienceRequired ? [`audience: "${name === 'google-pubsub' ? `https://hooks.example.com/webhooks/${name}` : '<app id>'}"`] : []),
  ];
  return parts.length ? `    jwt: { ${parts.join(', ')} }` : null;
}

function route(p: ProviderListing): string {
  const s = getScheme(p.name)!;
  const def = JWT_PROVIDERS[p.name];
  // keys from the provider's JWKS (or the route's jwksUrl): secrets would replace them
  const keysFetched = !!def && (!!def.jwks || def.algorithms.length === 0);
  const lines = [
    'routes:',
    `  - path: /webhooks/${p.name}`,
    `    provider: ${p.name}`,
    '    tenant: acme',
    ...(keysFetched ? [] : [`    secrets: [env:${env(p.name)}]`]),
  ];
  const jwt = jwtBlock(p.name);
  if (jwt) lines.push(jwt);
  if (s.urlSigned) lines.push(`    publicUrl: https://hooks.example.com/webhooks/${p.name}   # the URL the provider calls`);
  if (p.name === 'generic') lines.push('    generic: { header: X-Signature, algorithm: sha256, encoding: hex, prefix: "sha256=", timestampHeader: "", separator: "." }');
  return lines.join('\n');
}

/** What a route's `secrets` hold: the form of the key, or what else stands there (JWKS providers, identifiers). */
function secretForm(p: ProviderListing): string {
  const s = getScheme(p.name)!;
  const def = JWT_PROVIDERS[p.name];
  if (def?.algorithms.length === 0) return 'per route: a shared secret, public keys, or none with `jwt.jwksUrl` (below)';
  if (def?.jwks) return "none: the provider's published keys (JWKS), fetched and cached (below)";
  // certificate-URL and x5c schemes: the key comes with the delivery, the secret names what the route accepts
  if (s.asymmetric && p.secret === 'utf8') return 'not a key: what the signed content must name for this route (below)';
  return SECRET_FORM[p.secret];
}

function section(p: ProviderListing): string {
  const s = getScheme(p.name)!;
  // the token proves the sender and signs nothing of the body (a secret token; a JWT without a body-hash claim)
  const bodyUnsigned = p.family === 'token' || (p.family === 'jwt' && !s.signsBody);
  const out = [`## ${p.name}`, ''];
  const rows: [string, string][] = [
    ['family', p.family],
    ['documentation', p.docs.startsWith('http') ? `<${p.docs}>` : `[${p.docs}](${p.docs.replace(/^docs\//, '')})`],
    ['signature', p.headers.map(code).join(', ')],
    ['signed', code(p.signed)],
    ['timestamp', p.timestamp ? `${p.timestamp}; refused outside the route's \`tolerance\` (default ${p.tolerance})` : 'none signed: a captured delivery can be replayed once the ledger forgets its key (`ledger.retention`)'],
    ['idempotency id', p.id !== 'digest' ? code(p.id) : bodyUnsigned ? `none: the SHA-256 of the body (the token ${p.family === 'token' ? 'signs nothing' : 'does not sign it'})` : s.signsBody ? 'none signed: the SHA-256 of what was signed' : 'none signed: the SHA-256 of the signed parts'],
    ['secret', secretForm(p)],
  ];
  if (p.aliases) rows.push(['also known as', p.aliases.map(code).join(', ')]);
  if (!s.signsBody) rows.push(['body', `**${bodyUnsigned ? 'not' : 'only partly'} signed**: \`json:\` tenants and keys are refused on this route`]);
  for (const [k, v] of rows) out.push(`- **${k}**: ${v}`);
  for (const n of p.notes ?? []) out.push(`- ${n}`);
  out.push('', '```yaml', route(p), '```', '');
  // generic and jwt are configured per route: `hookgate sign` has nothing to sign with from the command line alone
  if (p.name !== 'generic' && p.name !== 'jwt') {
    const secret = s.asymmetric ? '@private-key.pem' : `"$${env(p.name)}"`;
    out.push('```sh', `hookgate sign --provider ${p.name} --secret ${secret} --body event.json${s.urlSigned ? ` --url https://hooks.example.com/webhooks/${p.name}` : ''}`, '```', '');
  }
  return out.join('\n');
}

export function renderProvidersDoc(): string {
  const list = providerListing();
  const head = `<!-- Generated from the provider registry by \`npm run docs:providers\`; do not edit by hand (a test compares). -->
# Providers

${list.length} providers. A route's \`provider:\` names one; \`hookgate providers\` (or \`--json\`) prints this list.
How every scheme verifies (raw bytes, constant time, every secret of a rotation, the signature before
the timestamp, both directions of the window), what becomes the idempotency key and the hand-written
schemes' details: [signature-schemes.md](signature-schemes.md).

Notation of *signed*: \`{body}\` the raw body, \`{timestamp}\` the timestamp exactly as sent,
\`{header:NAME}\` a header's value as sent, \`{url}\` the route's \`publicUrl\` with the request's query,
\`{secret}\` the secret itself (keyed hashes that are not HMACs); everything else is literal.

**Idempotency id.** Only material the signature covers: a field of the signed body (\`json:PATH\`), a
signed header (\`header:NAME\`), else the SHA-256 of what was signed. Delivery-id headers a provider
sends beside an unsigned signature (\`X-GitHub-Delivery\`, \`x-razorpay-event-id\`, …) are never used:
anyone replaying a captured body could change them.

**No signed timestamp** (tolerance \`-\` below): nothing in the delivery says when it was made, so a
capture replayed after \`ledger.retention\` is forwarded again; \`hookgate check\` warns on such routes.

| provider | family | signature | id | tolerance |
|---|---|---|---|---|
${list.map((p) => `| [\`${p.name}\`](#${p.name}) | ${p.family} | ${p.headers.map(code).join(', ')} | ${p.id === 'digest' ? 'digest' : code(p.id)} | ${p.tolerance ?? '-'} |`).join('\n')}

`;
  const left = `## Left out

Catalog entries, and features of shipped providers (key fetches, probes), not shipped (yet), and why:

| provider | why |
|---|---|
${LEFT_OUT.map((l) => `| ${l.name} | ${l.why} |`).join('\n')}
`;
  return head + list.map(section).join('\n') + '\n' + left;
}
