// `trustProxy` in the config: false, true, a hop count >= 1, or a list of trusted addresses/CIDRs.
// `hookgate check` names the bad entry of a list, and refuses a hop count of 0.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { testConfig } from '../helpers/gateway.js';
import { proxyEntryProblem } from '../../src/config/trust-proxy.js';

const dir = mkdtempSync(join(tmpdir(), 'hookgate-trust-proxy-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const check = (trustProxy: string) => {
  const f = join(dir, `c${n++}.yaml`);
  writeFileSync(f, `trustProxy: ${trustProxy}\nupstream: { url: "http://127.0.0.1:8000" }\nroutes:\n  - { path: /webhooks/stripe, provider: stripe, tenant: acme, secrets: [env:S] }\n`);
  return runCli(['check', '--config', f], { S: 'whsec_secret_value_xyz' });
};

t.test('every form passes check', async (t) => {
  for (const v of ['false', 'true', '1', '3', '[10.0.0.0/8, "192.168.1.7", "fd00::/8", "2001:db8::1", loopback, uniquelocal]']) {
    const r = await check(v);
    t.equal(r.code, 0, `trustProxy: ${v} ${r.err}`);
  }
  const route = [{ path: '/a', provider: 'stripe', tenant: 'acme', secrets: ['env:S'] }];
  t.equal(testConfig({ upstream: { url: 'http://127.0.0.1:8000' }, routes: route }, { S: 's' }).trustProxy, false, 'the default');
  t.same(testConfig({ upstream: { url: 'http://127.0.0.1:8000' }, trustProxy: ['10.0.0.0/8'], routes: route }, { S: 's' }).trustProxy, ['10.0.0.0/8'], 'a list is kept as written');
});

t.test('a bad CIDR is refused, naming the entry', async (t) => {
  const r = await check('[10.0.0.0/8, 10.0.0.0/33, not-an-address, "fd00::/129", "10.0.0.0/0"]');
  t.equal(r.code, 1);
  t.match(r.err, /trustProxy\[1\]: "10\.0\.0\.0\/33" has a prefix length that is not 1-32/);
  t.match(r.err, /trustProxy\[2\]: "not-an-address" is not an IP address or CIDR/);
  t.match(r.err, /trustProxy\[3\]: "fd00::\/129" has a prefix length that is not 1-128/);
  t.match(r.err, /trustProxy\[4\]: "10\.0\.0\.0\/0" has a prefix length that is not 1-32/);
  t.notMatch(r.err, /trustProxy\[0\]/, 'the good entry is not blamed');
});

t.test('a hop count of 0 (or a negative or fractional one) is refused once, with the accepted forms', async (t) => {
  for (const v of ['0', '-1', '1.5', '"yes"', '[]']) {
    const r = await check(v);
    t.equal(r.code, 1, v);
    const lines = r.err.split('\n').filter((l) => l.includes('trustProxy'));
    t.equal(lines.length, 1, `one line for ${v}: ${r.err}`);
    t.match(lines[0], /trustProxy: expected false, true, a hop count of 1 or more, or a list of trusted proxy addresses\/CIDRs, got/);
  }
});

t.test('entries: addresses, CIDRs, named ranges', async (t) => {
  for (const ok of ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '::ffff:10.0.0.1', 'loopback', 'linklocal', 'uniquelocal']) t.equal(proxyEntryProblem(ok), null, ok);
  for (const bad of ['', '10.0.0', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/255.0.0.0', 'localhost', '10.0.0.0/ 8', ' 10.0.0.1']) t.not(proxyEntryProblem(bad), null, JSON.stringify(bad));
});

t.test('believableForwardedFor keeps the IP addresses right of the last entry that is not one', async (t) => {
  const { believableForwardedFor } = await import('../../src/config/trust-proxy.js');
  t.equal(believableForwardedFor('203.0.113.7'), '203.0.113.7');
  t.equal(believableForwardedFor('203.0.113.7, 2001:db8::1'), '203.0.113.7, 2001:db8::1');
  t.equal(believableForwardedFor('garbage'), undefined);
  t.equal(believableForwardedFor('6.6.6.6, unknown, 203.0.113.7,10.0.0.1'), '203.0.113.7, 10.0.0.1');
  t.equal(believableForwardedFor('203.0.113.7, '), undefined, 'an empty entry next to the peer');
  t.equal(believableForwardedFor('203.0.113.7:443'), undefined, 'a port is not an address');
});
