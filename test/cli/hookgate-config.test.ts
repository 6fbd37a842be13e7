// HOOKGATE_CONFIG is the fallback for --config, for the real CLI (the built bin as a process):
// `hookgate run` and plain `hookgate` start from it and serve; `check` reads it; --config wins over
// it; with neither, the CLI says to set one.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import Stripe from 'stripe';
import { startUpstream } from '../helpers/upstream.js';
import { spawnHookgate } from '../helpers/hookgate-process.js';

const stripe = new Stripe('sk_test_dummy');
const SECRET = 'whsec_hookgate_config_env_0123';

async function setup(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-env-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const up = await startUpstream((_r, res) => {
    res.statusCode = 202;
    res.end('app ok');
  });
  t.teardown(() => up.close());
  const file = join(dir, 'from-env.yaml');
  writeFileSync(file, `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstream:\n  url: ${up.url}\nroutes:\n  - path: /from-env\n    provider: stripe\n    tenant: acme\n    secrets: [env:ENV_TEST_SECRET]\n`);
  const invalid = join(dir, 'invalid.yaml');
  writeFileSync(invalid, `upstream:\n  url: ${up.url}\nroutes:\n  - path: /x\n    provider: stripe\n    secrets: [env:NOT_SET_ANYWHERE]\n`);
  return { dir, file, invalid, up };
}

async function deliver(traffic: string) {
  const payload = JSON.stringify({ id: `evt_env_${Date.now()}`, type: 'invoice.paid' });
  const res = await request(`${traffic}/from-env`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }) }, body: payload });
  return { status: res.statusCode, outcome: res.headers['hookgate-outcome'], text: await res.body.text() };
}

for (const args of [['run'], []]) {
  const shown = ['hookgate', ...args].join(' ');
  t.test(`\`${shown}\` without --config starts from HOOKGATE_CONFIG and serves its routes`, async (t) => {
    const { file, up } = await setup(t);
    const p = spawnHookgate(t, args, { HOOKGATE_CONFIG: file, ENV_TEST_SECRET: SECRET });
    const { traffic, admin } = await p.started();
    const ready = await request(`${admin}/readyz`);
    t.equal(ready.statusCode, 200, 'ready');
    await ready.body.dump();
    t.same(await deliver(traffic), { status: 202, outcome: 'forwarded', text: 'app ok' }, 'a signed delivery on the file\'s route is forwarded');
    t.equal(up.received.length, 1);
    p.child.kill('SIGTERM');
    t.same(await p.exited, { code: 0, signal: null });
  });
}

t.test('--config wins over HOOKGATE_CONFIG', async (t) => {
  const { file, dir } = await setup(t);
  const p = spawnHookgate(t, ['run', '--config', file], { HOOKGATE_CONFIG: join(dir, 'does-not-exist.yaml'), ENV_TEST_SECRET: SECRET });
  const { traffic } = await p.started();
  t.equal((await deliver(traffic)).outcome, 'forwarded');
  p.child.kill('SIGTERM');
  t.same(await p.exited, { code: 0, signal: null });
});

t.test('HOOKGATE_CONFIG is what is read: an invalid file there fails the start naming the field', async (t) => {
  const { invalid } = await setup(t);
  const p = spawnHookgate(t, ['run'], { HOOKGATE_CONFIG: invalid });
  t.same(await p.exited, { code: 1, signal: null });
  t.match(p.stderr(), /invalid\.yaml: invalid/);
  t.match(p.stderr(), /routes\[0\]\.secrets\[0\]: env var NOT_SET_ANYWHERE is not set/);
});

t.test('`hookgate check` reads HOOKGATE_CONFIG', async (t) => {
  const { file } = await setup(t);
  const p = spawnHookgate(t, ['check'], { HOOKGATE_CONFIG: file, ENV_TEST_SECRET: SECRET });
  t.same(await p.exited, { code: 0, signal: null });
  const out = p.lines.map((l) => l.raw).join('\n');
  t.match(out, /from-env\.yaml: valid/);
  t.match(out, /POST \/from-env/);
  t.notOk(out.includes(SECRET), 'no secret in the output');
});

t.test('with neither --config nor HOOKGATE_CONFIG, run exits 2 and names both', async (t) => {
  // empty, so that a HOOKGATE_CONFIG in the environment of the test run does not leak in
  const p = spawnHookgate(t, ['run'], { HOOKGATE_CONFIG: '' });
  t.same(await p.exited, { code: 2, signal: null });
  t.match(p.stderr(), /--config FILE is required \(or set HOOKGATE_CONFIG\)/);
});
