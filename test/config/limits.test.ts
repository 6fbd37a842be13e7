// `limits` in the config: `hookgate check` refuses malformed rates, stores and tenants that no route
// can produce, naming the field; a valid block resolves to the rates the limiter uses.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { testConfig } from '../helpers/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'hookgate-limits-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(yaml: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, yaml);
  return p;
}
const ROUTES = `routes:
  - { path: /webhooks/stripe, provider: stripe, tenant: acme, secrets: [env:S] }
  - { path: "/webhooks/:tenant/github", provider: github, tenant: "param:tenant", secrets: { globex: [env:G], initech: [env:I] } }
`;
const config = (limits: string) => file(`upstream: { url: "http://127.0.0.1:8000" }\nlimits:\n${limits}\n${ROUTES}`);
const check = (f: string) => runCli(['check', '--config', f], { S: 'whsec_secret_value_xyz', G: 'globex_secret_value', I: 'initech_secret_value' });

t.test('a valid limits block passes check', async (t) => {
  const r = await check(config(`  store: redis://127.0.0.1:6379/2\n  unverified: 50/s\n  tenants: { "*": 10/s, acme: 20/m, globex: 3/h }`));
  t.equal(r.code, 0, r.err);
  t.match(r.out, /limits redis/);
});

const broken: [string, string, RegExp[]][] = [
  ['a rate without a unit', `  unverified: "100"`, [/limits\.unverified: expected .*got "100"/]],
  ['a rate per day (units are s, m, h)', `  tenants: { acme: 100/d }`, [/limits\.tenants\.acme: expected .*got "100\/d"/]],
  ['a rate written out', `  tenants: { "*": 10 per second }`, [/limits\.tenants\["\*"\]: expected .*got "10 per second"/]],
  ['a zero rate', `  tenants: { acme: 0/s }`, [/limits\.tenants\["acme"\]: expected a rate of at least 1, got "0\/s"/]],
  ['a negative rate', `  unverified: -5/s`, [/limits\.unverified: expected .*got "-5\/s"/]],
  ['a rate that is a number', `  unverified: 100`, [/limits\.unverified: expected string, got number/]],
  ['an unknown key', `  tenant: { acme: 5/s }`, [/limits\.tenant: unknown key/]],
  ['a store that is neither memory nor redis', `  store: memcached://127.0.0.1:11211`, [/limits\.store: /]],
  ['a redis URL without a host', `  store: "redis://:6379"`, [/limits\.store: expected memory or redis:\/\/HOST:PORT/]],
  ['a tenant no route can produce', `  tenants: { umbrella: 5/s }`, [/limits\.tenants\["umbrella"\]: no route can produce tenant umbrella/]],
  ['a tenant name no request can carry', `  tenants: { "acme corp": 5/s }`, [/limits\.tenants\["acme corp"\]: a tenant name is 1-128 letters/]],
  ['several problems at once', `  unverified: 0/m\n  tenants: { acme: 0/s, hooli: 1/s, "a/b": 2/s }`, [/limits\.unverified: expected a rate of at least 1/, /limits\.tenants\["acme"\]: expected a rate of at least 1/, /no route can produce tenant hooli/, /limits\.tenants\["a\/b"\]: a tenant name is/]],
];

for (const [name, limits, expected] of broken) {
  t.test(`check refuses ${name}`, async (t) => {
    const r = await check(config(limits));
    t.equal(r.code, 1, 'exit 1');
    t.match(r.err, /: invalid\n/);
    for (const re of expected) t.match(r.err, re);
    t.notMatch(r.err, /whsec_secret_value_xyz/, 'no secret printed');
  });
}

t.test('the store URL is never printed: it may carry a password', async (t) => {
  const r = await check(config(`  store: "redis://:hunter2@"`));
  t.equal(r.code, 1);
  t.match(r.err, /limits\.store: expected memory or redis/);
  t.notMatch(r.err, /hunter2/);
});

t.test('a tenant named in a signed body can be produced by a route with a route-wide secret', async (t) => {
  const f = file(`upstream: { url: "http://127.0.0.1:8000" }\nlimits: { tenants: { "shop-1.example.com": 5/s } }\nroutes:\n  - { path: /webhooks/shopify, provider: shopify, tenant: "json:shop", secrets: [env:S] }\n`);
  const r = await check(f);
  t.equal(r.code, 0, r.err);
});

t.test('resolved rates: defaults, "*" always present, windows in ms', async (t) => {
  const c = testConfig({ upstream: { url: 'http://127.0.0.1:8000' }, routes: [{ path: '/a', provider: 'github', tenant: 'acme', secrets: ['x'] }] });
  t.equal(c.limits.store, 'memory');
  t.same(c.limits.unverified, { max: 200, windowMs: 1000, text: '200/s' });
  t.same([...c.limits.tenants], [['*', { max: 100, windowMs: 1000, text: '100/s' }]]);
  const d = testConfig({ upstream: { url: 'http://127.0.0.1:8000' }, limits: { unverified: '7/h', tenants: { acme: '30/m' } }, routes: [{ path: '/a', provider: 'github', tenant: 'acme', secrets: ['x'] }] });
  t.same(d.limits.unverified, { max: 7, windowMs: 3_600_000, text: '7/h' });
  t.same(d.limits.tenants.get('acme'), { max: 30, windowMs: 60_000, text: '30/m' });
  t.same(d.limits.tenants.get('*'), { max: 100, windowMs: 1000, text: '100/s' }, '"*" keeps its default when not written');
  t.ok(d.knownTenants.has('acme'), 'configured tenants are metric labels');
});
