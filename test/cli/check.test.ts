// `hookgate check`: a valid file lists its routes and warnings; a broken one names every problem by
// field path and exits 1; no secret is ever printed.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'hookgate-check-'));
let n = 0;
function file(yaml: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, yaml);
  return p;
}
const BASE = `upstream: { url: "http://127.0.0.1:8000" }\n`;

t.test('JWT and handshake routes: check names the key set, the probe, and that a bearer token does not bind the body', async (t) => {
  const f = file(`${BASE}routes:
  - { path: /pubsub, provider: google-pubsub, tenant: acme, jwt: { audience: "https://hooks.example.com/pubsub" } }
  - { path: /meta, provider: github, tenant: acme, secrets: [env:META_SECRET], handshake: { kind: meta, token: env:META_VERIFY } }
`);
  const r = await runCli(['check', '--config', f], { META_SECRET: 'meta-app-secret-xyz', META_VERIFY: 'verify-token-xyz' });
  t.equal(r.code, 0, r.err);
  t.match(r.out, /POST \/pubsub .*provider=google-pubsub tenant=acme secrets=0 keys=https:\/\/www\.googleapis\.com\/oauth2\/v3\/certs/);
  t.match(r.out, /\/meta .*handshake=meta/);
  t.match(r.out, /warning: routes\[0\]: google-pubsub: the push token proves Google sent the request, not what the body holds/);
  t.notMatch(r.out + r.err, /meta-app-secret-xyz|verify-token-xyz/);
});

t.test('a valid config prints its routes and warnings, never a secret', async (t) => {
  writeFileSync(join(dir, 'gh-secret'), 'file-secret-value-xyz\n');
  const f = file(`${BASE}routes:
  - { path: /webhooks/stripe, provider: stripe, tenant: acme, secrets: [env:STRIPE_SECRET] }
  - { path: /webhooks/:tenant/github, provider: github, tenant: "param:tenant", secrets: { acme: [file:gh-secret] } }
  - { path: /legacy, provider: generic, tenant: acme, secrets: [literal-secret-abc], generic: { header: X-Sig, timestampHeader: X-Ts }, idempotencyKey: "header:X-Ts" }
  - { path: /webhooks/stripe-eu, provider: stripe, tenant: acme, secrets: [env:STRIPE_SECRET] }
  - { path: /webhooks/stripe-eu-2, provider: stripe, tenant: acme, secrets: [env:STRIPE_SECRET], namespace: stripe-eu }
`);
  const r = await runCli(['check', '--config', f], { STRIPE_SECRET: 'whsec_env_secret_value' });
  t.equal(r.code, 0, r.err);
  t.match(r.out, /valid/);
  t.match(r.out, /POST \/webhooks\/stripe → \/webhooks\/stripe\s+provider=stripe tenant=acme secrets=1/);
  t.match(r.out, /\/webhooks\/:tenant\/github .*tenant=param:tenant secrets=acme: 1/);
  t.match(r.out, /\/webhooks\/stripe-eu-2 .* namespace=stripe-eu\n/);
  t.match(r.out, /warning: routes\[2\]\.secrets\[0\]: a literal secret/);
  t.match(r.out, /warning: routes\[3\]\.secrets\[0\]: the same secret as routes\[0\]\.secrets\[0\], on another route with its own key space: .*give them the same namespace/);
  t.match(r.out, /warning: routes\[4\]\.secrets\[0\]: the same secret as routes\[0\]\.secrets\[0\]/);
  t.notMatch(r.out, /idempotencyKey|routes\[1\]\.tenant/, 'a signed header override and a tenant proven by its own secrets are fine');
  t.notMatch(r.out + r.err, /whsec_env_secret_value|file-secret-value-xyz|literal-secret-abc/);
});

const broken: [string, string, RegExp[]][] = [
  ['a missing env secret', `${BASE}routes:\n  - { path: /a, provider: stripe, secrets: [env:STRIPE_SECRET] }\n`, [/routes\[0\]\.secrets\[0\]: env var STRIPE_SECRET is not set/]],
  ['a missing secret file', `${BASE}routes:\n  - { path: /a, provider: github, secrets: [file:nope/missing] }\n`, [/routes\[0\]\.secrets\[0\]: file .*missing cannot be read \(ENOENT\)/]],
  ['unknown keys', `${BASE}colour: blue\nroutes:\n  - { path: /a, provider: github, secrets: [x], tenat: acme }\n`, [/colour: unknown key/, /routes\[0\]\.tenat: unknown key/]],
  ['bad duration, size, rate and mode', `${BASE}mode: audit\nbodyLimit: 1 MB\nlimits: { unverified: 10/day }\nroutes:\n  - { path: /a, provider: github, secrets: [x], tolerance: 5 minutes }\n`,
    [/mode: expected one of "enforce", "monitor", got "audit"/, /bodyLimit: expected .*got "1 MB"/, /limits\.unverified: expected per client address.*got "10\/day"/, /routes\[0\]\.tolerance: expected allowed clock difference.*got "5 minutes"/]],
  ['an unknown provider', `${BASE}routes:\n  - { path: /a, provider: stripey, secrets: [x] }\n`, [/routes\[0\]\.provider: expected one of .*stripe.*got "stripey"/]],
  ['another name of a provider', `${BASE}routes:\n  - { path: /a, provider: forgejo, secrets: [x] }\n`, [/routes\[0\]\.provider: forgejo is listed under its name gitea; write provider: gitea/]],
  ['a missing upstream and routes', `listen: 0.0.0.0:8080\n`, [/upstream: is required/, /routes: is required/]],
  ['per-tenant secrets with a literal tenant', `${BASE}routes:\n  - { path: /a, provider: github, tenant: acme, secrets: { acme: [x] } }\n`, [/routes\[0\]\.secrets: a per-tenant map needs a tenant taken from the request/]],
  ['a param tenant the path lacks', `${BASE}routes:\n  - { path: /a, provider: github, tenant: "param:tenant", secrets: { acme: [x] } }\n`, [/routes\[0\]\.tenant: the path \/a has no :tenant parameter/]],
  ['a retention shorter than twice the tolerance (the window is two-sided)', `${BASE}ledger: { retention: 9m }\nroutes:\n  - { path: /a, provider: stripe, secrets: [x], tolerance: 5m }\n`, [/routes\[0\]\.tolerance: 5m accepts a signed timestamp up to 5m either side of the clock, so ledger\.retention \(9m\) must be at least 2 × tolerance/]],
  ["a retention shorter than twice the provider's own window (cloudinary: 2h, when the route sets no tolerance)", `${BASE}ledger: { retention: 3h }\nroutes:\n  - { path: /a, provider: cloudinary, secrets: [x] }\n`, [/routes\[0\]\.tolerance: 2h \(cloudinary's default\) accepts a signed timestamp up to 2h either side of the clock, so ledger\.retention \(3h\) must be at least 2 × tolerance/]],
  ['a tenant from a path parameter with one secret list', `${BASE}routes:\n  - { path: /a/:t, provider: github, tenant: "param:t", secrets: [x] }\n`, [/routes\[0\]\.tenant: param:t is taken from the request, and with one secret list for the route nothing proves it: .*map from tenant to its own secrets/]],
  ['a tenant from a header with one secret list', `${BASE}routes:\n  - { path: /a, provider: github, tenant: "header:X-Tenant", secrets: [x] }\n`, [/routes\[0\]\.tenant: header:X-Tenant is taken from the request/]],
  ['one secret under two tenants of a route', `${BASE}routes:\n  - { path: /a/:t, provider: github, tenant: "param:t", secrets: { acme: [not-a-key], globex: [not-a-key] } }\n`, [/routes\[0\]\.secrets\.globex\[0\]: the same secret as routes\[0\]\.secrets\.acme\[0\] \(tenant acme\) under tenant globex: .*give each tenant its own secret/]],
  ['one secret under two routes\' tenants', `${BASE}routes:\n  - { path: /a, provider: github, tenant: acme, secrets: [not-a-key] }\n  - { path: /b, provider: stripe, tenant: globex, secrets: [not-a-key] }\n`, [/routes\[1\]\.secrets\[0\]: the same secret as routes\[0\]\.secrets\[0\] \(tenant acme\) under tenant globex/]],
  ['a json tenant on mailgun (the body is not signed)', `${BASE}routes:\n  - { path: /a, provider: mailgun, tenant: "json:event-data.tenant", secrets: [x] }\n`, [/routes\[0\]\.tenant: mailgun does not sign the body, so json:event-data\.tenant can be changed in a captured delivery and name any tenant; use a literal tenant, or a map from tenant to its own secrets/]],
  ['a json key on mailgun', `${BASE}routes:\n  - { path: /a, provider: mailgun, tenant: acme, secrets: [x], idempotencyKey: "json:event-data.id" }\n`, [/routes\[0\]\.idempotencyKey: mailgun does not sign the body, so json:event-data\.id can be changed .*use default/]],
  ['a json key on a gitlab secret token', `${BASE}routes:\n  - { path: /a, provider: gitlab, tenant: acme, secrets: [x], idempotencyKey: "json:object_attributes.id" }\n`, [/routes\[0\]\.idempotencyKey: gitlab does not sign the body/]],
  ['a header key the scheme never signs', `${BASE}routes:\n  - { path: /a, provider: generic, tenant: acme, secrets: [x], generic: { header: X-Sig }, idempotencyKey: "header:X-Request-Id" }\n`, [/routes\[0\]\.idempotencyKey: header x-request-id is not covered by the generic signature \(it covers no header\), so a replayed delivery with a new value would get a new key; use default/]],
  ['a header key on a gitlab secret token (it signs nothing)', `${BASE}routes:\n  - { path: /a, provider: gitlab, tenant: acme, secrets: [x], idempotencyKey: "header:webhook-id" }\n`, [/routes\[0\]\.idempotencyKey: header webhook-id is not covered by the gitlab signature \(it covers no header\)/]],
  ['a header key standard never signs', `${BASE}routes:\n  - { path: /a, provider: standard, tenant: acme, secrets: [x], idempotencyKey: "header:X-Request-Id" }\n`, [/routes\[0\]\.idempotencyKey: header x-request-id is not covered by the standard signature \(it covers webhook-id, webhook-timestamp, svix-id, svix-timestamp\)/]],
  ['a literal tenant outside the tenant alphabet', `${BASE}routes:\n  - { path: /a, provider: github, tenant: "acme:x", secrets: [x] }\n`, [/routes\[0\]\.tenant: expected a tenant name of 1-128 letters, digits, '\.', '_' or '-', starting with a letter or digit, or param:NAME, header:NAME or json:PATH; got "acme:x"/]],
  ['a namespace that is not a name', `${BASE}routes:\n  - { path: /a, provider: github, secrets: [x], namespace: "a|b" }\n`, [/routes\[0\]\.namespace: expected a key space several routes share on purpose .*got "a\|b"/]],
  ['a URL-signed scheme without publicUrl', `${BASE}routes:\n  - { path: /a, provider: twilio, secrets: [x] }\n`, [/routes\[0\]\.publicUrl: is required for provider twilio/]],
  ['generic without its settings', `${BASE}routes:\n  - { path: /a, provider: generic, secrets: [x] }\n`, [/routes\[0\]\.generic: is required for provider generic/]],
  ['a limit for a tenant no route produces', `${BASE}limits: { tenants: { globex: 5/s } }\nroutes:\n  - { path: /a, provider: github, tenant: acme, secrets: [x] }\n`, [/limits\.tenants\["globex"\]: no route can produce tenant globex/]],
  ['two routes on one path', `${BASE}routes:\n  - { path: /a/:x, provider: github, secrets: [x] }\n  - { path: /a/:y, provider: github, secrets: [x] }\n`, [/routes\[1\]\.path: \/a\/:y is already served by routes\[0\]/]],
  ['a bad listen address', `${BASE}listen: "8080"\nroutes:\n  - { path: /a, provider: github, secrets: [x] }\n`, [/listen: expected HOST:PORT/]],
  ['a bad public key', `${BASE}routes:\n  - { path: /a, provider: discord, secrets: [not-a-key] }\n`, [/routes\[0\]\.secrets\[0\]: /]],
  ['YAML that does not parse', `${BASE}routes:\n  - path: /a\n   provider: github\n`, [/c\d+\.yaml:\d+: /]],
  ['a duplicated YAML key', `${BASE}upstream: { url: "http://x" }\nroutes: []\n`, [/c\d+\.yaml:\d+: Map keys must be unique/]],
];

for (const [name, yaml, expected] of broken) {
  t.test(`check names the problem: ${name}`, async (t) => {
    const r = await runCli(['check', '--config', file(yaml)]);
    t.equal(r.code, 1, 'exit 1');
    t.match(r.err, /invalid/);
    for (const re of expected) t.match(r.err, re);
    t.notMatch(r.err, /not-a-key/, 'the secret is not echoed');
  });
}

t.test('every problem is listed, not just the first', async (t) => {
  const r = await runCli(['check', '--config', file(`${BASE}routes:\n  - { path: /a, provider: stripe, secrets: [env:A] }\n  - { path: /b, provider: stripe, secrets: [env:B] }\n`)]);
  t.equal(r.code, 1);
  t.match(r.err, /routes\[0\]\.secrets\[0\]: env var A is not set/);
  t.match(r.err, /routes\[1\]\.secrets\[0\]: env var B is not set/);
});

t.test('the installed binary exits 0 on a valid file and 1 on an invalid one', async (t) => {
  const ok = spawnSync(process.execPath, ['bin/hookgate.js', 'check', '--config', 'config/hookgate.example.yaml'], { encoding: 'utf8' });
  t.equal(ok.status, 0, ok.stderr);
  const bad = spawnSync(process.execPath, ['bin/hookgate.js', 'check', '--config', file(`${BASE}routes: []\n`)], { encoding: 'utf8' });
  t.equal(bad.status, 1);
  t.match(bad.stderr, /routes: /);
  const none = spawnSync(process.execPath, ['bin/hookgate.js', 'check'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  t.equal(none.status, 2);
  t.match(none.stderr, /--config FILE is required/);
});

t.test('ledger.cache is bounded: its arrays are made for all of it when the gateway starts', async (t) => {
  const over = await runCli(['check', '--config', file(`${BASE}ledger: { cache: 10000001 }\nroutes:\n  - { path: /a, provider: stripe, secrets: [x] }\n`)]);
  t.equal(over.code, 1);
  t.match(over.err, /ledger\.cache: must be <= 10000000/);
  const atBound = await runCli(['check', '--config', file(`${BASE}ledger: { cache: 10000000 }\nroutes:\n  - { path: /a, provider: stripe, secrets: [x] }\n`)]);
  t.equal(atBound.code, 0, atBound.err);
});

t.test('run refuses what check refuses, naming the route and what to do instead', async (t) => {
  const refused: [string, RegExp][] = [
    [`${BASE}routes:\n  - { path: /a/:t, provider: github, tenant: "param:t", secrets: [x] }\n`, /routes\[0\]\.tenant: param:t is taken from the request.*map from tenant to its own secrets/],
    [`${BASE}routes:\n  - { path: /a, provider: mailgun, tenant: "json:t", secrets: [x] }\n`, /routes\[0\]\.tenant: mailgun does not sign the body/],
    [`${BASE}routes:\n  - { path: /a, provider: github, tenant: acme, secrets: [not-a-key] }\n  - { path: /b, provider: github, tenant: globex, secrets: [not-a-key] }\n`, /routes\[1\]\.secrets\[0\]: the same secret as routes\[0\]\.secrets\[0\] \(tenant acme\)/],
    [`${BASE}ledger: { retention: 5m }\nroutes:\n  - { path: /a, provider: stripe, tenant: acme, secrets: [x] }\n`, /routes\[0\]\.tolerance: 5m .*must be at least 2 × tolerance/],
  ];
  for (const [yaml, re] of refused) {
    const r = await runCli(['run', '--config', file(yaml)]);
    t.equal(r.code, 1, 'exit 1 before listening');
    t.match(r.err, re);
    t.notMatch(r.err, /not-a-key/, 'the secret is not echoed');
  }
});

t.test('gitlab: a signing token covers the body and webhook-id, so json: and header:webhook-id are accepted', async (t) => {
  const secret = 'whsec_' + Buffer.from('gitlab-signing-token').toString('base64');
  const r = await runCli(['check', '--config', file(`${BASE}routes:\n  - { path: /a, provider: gitlab, tenant: "json:project.namespace", secrets: [env:GL], idempotencyKey: "header:webhook-id" }\n`)], { GL: secret });
  t.equal(r.code, 0, r.err);
});

// issue 13: a mistyped connection URL was printed with its password (`got "postgres://user:secret@…"`).
t.test('check never prints a connection URL\'s credentials', async (t) => {
  const cases: [string, RegExp][] = [
    ['ledger: { url: "postgress://hookgate:pg-PASSWORD-1@db.internal:5432/hooks" }', /ledger\.url: .*got "postgress:\/\/\*\*\*@db\.internal:5432\/hooks"/],
    ['ledger: { url: "postgres:hookgate:pg-PASSWORD-2@db.internal/hooks" }', /ledger\.url: .*\*\*\*@db\.internal\/hooks/],
    ['limits: { store: "redis//default:redis-PASSWORD-3@cache:6379" }', /limits\.store: .*\*\*\*@cache:6379/],
    ['limits: { store: "rediss:/:redis-PASS/WORD-4@cache:6379" }', /limits\.store: .*\*\*\*@cache:6379/],
    ['upstream: { url: "htp://app:app-PASSWORD-5@127.0.0.1:8000" }', /upstream\.url: .*\*\*\*@127\.0\.0\.1:8000/],
  ];
  for (const [line, named] of cases) {
    const r = await runCli(['check', '--config', file(`${line.startsWith('upstream') ? '' : BASE}${line}\nroutes:\n  - { path: /a, provider: github, tenant: acme, secrets: [x] }\n`)]);
    t.equal(r.code, 1, line);
    t.match(r.err, named, 'the field and the host are named');
    t.notMatch(r.out + r.err, /PASS|WORD/, 'no password');
  }
});

t.test('check warns where a provider signs no timestamp, and where its delivery id header is not signed', async (t) => {
  const f = file(`${BASE}routes:
  - { path: /stripe, provider: stripe, tenant: acme, secrets: [env:S1] }
  - { path: /razorpay, provider: razorpay, tenant: acme, secrets: [env:S2] }
  - { path: /revolut, provider: revolut, tenant: acme, secrets: [env:S3] }
  - { path: /legacy, provider: generic, tenant: acme, secrets: [env:S4], generic: { header: X-Sig, timestampHeader: X-Ts } }
  - { path: /gitlab, provider: gitlab, tenant: acme, secrets: [env:S5] }
  - { path: /github, provider: github, tenant: acme, secrets: [env:S6], idempotencyKey: "json:hook_id" }
`);
  const r = await runCli(['check', '--config', f], { S1: 'a1', S2: 'a2', S3: 'a3', S4: 'a4', S5: 'a5', S6: 'a6' });
  t.equal(r.code, 0, r.err);
  t.match(r.out, /warning: routes\[1\]: razorpay signs no timestamp, so nothing in a delivery says when it was made: a captured one sent again after ledger\.retention \(72h\) is forwarded again/);
  t.match(r.out, /warning: routes\[1\]: razorpay names deliveries in x-razorpay-event-id, which its signature does not cover, so the idempotency key is the SHA-256 of what was signed instead/);
  t.match(r.out, /warning: routes\[4\]: gitlab signs no timestamp/, 'a secret token signs nothing');
  t.match(r.out, /warning: routes\[5\]: github signs no timestamp/);
  t.notMatch(r.out, /routes\[5\]: github names deliveries/, 'a route that chose its own signed key is not told about the header');
  t.notMatch(r.out, /routes\[(0|2|3)\]: /, 'stripe and revolut sign a timestamp, and so does a generic route with timestampHeader');
});

t.test('JWT routes: the timestamp warning follows the route (an iat window over a bound body), said once', async (t) => {
  const f = file(`${BASE}routes:
  - { path: /plaid, provider: plaid, tenant: acme, secrets: [env:EC] }
  - { path: /bound, provider: jwt, tenant: acme, secrets: [env:H], jwt: { token: "header:x-jwt", algorithms: [HS256], bodyHashClaim: body_sha256, requireIat: true } }
  - { path: /loose, provider: jwt, tenant: acme, secrets: [env:H2], jwt: { token: "header:x-jwt", algorithms: [HS256], bodyHashClaim: body_sha256 } }
  - { path: /netlify, provider: netlify, tenant: acme, secrets: [env:N] }
  - { path: /wise, provider: wise, tenant: acme, secrets: [env:RSA] }
`);
  const { generateKeyPairSync } = await import('node:crypto');
  const pub = (k: { publicKey: import('node:crypto').KeyObject }) => k.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const r = await runCli(['check', '--config', f], { EC: pub(generateKeyPairSync('ec', { namedCurve: 'P-256' })), H: 'hs-secret-1', H2: 'hs-secret-2', N: 'netlify-jws-secret', RSA: pub(generateKeyPairSync('rsa', { modulusLength: 2048 })) });
  t.equal(r.code, 0, r.err);
  t.notMatch(r.out, /routes\[(0|1)\]: /, 'plaid signs iat, and so does a jwt route with requireIat over a bound body');
  t.equal(r.out.match(/routes\[2\]: .*(no timestamp|no time)/g)?.length, 1, 'a jwt route without requireIat: warned once');
  t.match(r.out, /warning: routes\[2\]: jwt signs no timestamp/);
  t.equal(r.out.match(/routes\[3\]: .*(no timestamp|no time)/g)?.length, 1, 'netlify: warned once');
  t.equal(r.out.match(/routes\[4\]: .*(no timestamp|no signed timestamp)/g)?.length, 1, 'wise: warned once');
});
