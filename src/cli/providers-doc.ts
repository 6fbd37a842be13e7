// docs/providers.md, generated from the registry (`npm run docs:providers`; a test fails when the file
// differs): the same data as `hookgate providers`, one section per provider with a minimal route.
import { getScheme } from '../providers/index.js';
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

function route(p: ProviderListing): string {
  const s = getScheme(p.name)!;
  const lines = [
    'routes:',
    `  - path: /webhooks/${p.name}`,
    `    provider: ${p.name}`,
    '    tenant: acme',
    `    secrets: [env:${env(p.name)}]`,
  ];
  if (s.urlSigned) lines.push(`    publicUrl: https://hooks.example.com/webhooks/${p.name}   # the URL the provider calls`);
  if (p.name === 'generic') lines.push('    generic: { header: X-Signature, algorithm: sha256, encoding: hex, prefix: "sha256=", timestampHeader: "", separator: "." }');
  return lines.join('\n');
}

function section(p: ProviderListing): string {
  const s = getScheme(p.name)!;
  const out = [`## ${p.name}`, ''];
  const rows: [string, string][] = [
    ['family', p.family],
    ['documentation', p.docs.startsWith('http') ? `<${p.docs}>` : `[${p.docs}](${p.docs.replace(/^docs\//, '')})`],
    ['signature', p.headers.map(code).join(', ')],
    ['signed', code(p.signed)],
    ['timestamp', p.timestamp ? `${p.timestamp}; refused outside the route's \`tolerance\` (default ${p.tolerance})` : 'none signed: a captured delivery can be replayed once the ledger forgets its key (`ledger.retention`)'],
    ['idempotency id', p.id !== 'digest' ? code(p.id) : p.family === 'token' ? 'none: the SHA-256 of the body (the token signs nothing)' : s.signsBody ? 'none signed: the SHA-256 of what was signed' : 'none signed: the SHA-256 of the signed parts'],
    ['secret', SECRET_FORM[p.secret]],
  ];
  if (p.aliases) rows.push(['also known as', p.aliases.map(code).join(', ')]);
  if (!s.signsBody) rows.push(['body', `**${p.family === 'token' ? 'not' : 'only partly'} signed**: \`json:\` tenants and keys are refused on this route`]);
  for (const [k, v] of rows) out.push(`- **${k}**: ${v}`);
  for (const n of p.notes ?? []) out.push(`- ${n}`);
  out.push('', '```yaml', route(p), '```', '');
  if (p.name !== 'generic') {
    const secret = p.secret === 'public-key' ? '@private-key.pem' : `"$${env(p.name)}"`;
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

Catalog entries not shipped (yet), and why:

| provider | why |
|---|---|
${LEFT_OUT.map((l) => `| ${l.name} | ${l.why} |`).join('\n')}
`;
  return head + list.map(section).join('\n') + '\n' + left;
}
