// `npm start` itself: its script is `node bin/hookgate.js run --config config/hookgate.example.yaml`,
// which this test runs on a copy of the example that differs only in its three addresses (traffic and
// admin on port 0, the upstream at a test server), so it neither races other processes for fixed ports
// nor needs an app on :8000. Nothing else is set up: the embedded ledger and the memory limit store
// are the example's own. Ready on the admin port, a signed delivery forwarded, its retry a duplicate.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { parse } from 'yaml';
import Stripe from 'stripe';
import { sign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { REPO, spawnHookgate, until } from '../helpers/hookgate-process.js';

const EXAMPLE = 'config/hookgate.example.yaml';
const stripe = new Stripe('sk_test_dummy');

interface ExampleRoute { path: string; provider: string; secrets: string[] }

t.test('npm start runs the gateway on the example config: ready, a signed delivery forwarded, its retry a duplicate', async (t) => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  t.equal(pkg.scripts.start, `node bin/hookgate.js run --config ${EXAMPLE}`, 'the start script is the command run here');

  const up = await startUpstream((r, res) => {
    res.statusCode = 200;
    res.end(`app got ${r.url}`);
  });
  t.teardown(() => up.close());
  const original = readFileSync(join(REPO, EXAMPLE), 'utf8');
  const copy = original
    .replace(/^listen: .*$/m, 'listen: 127.0.0.1:0')
    .replace(/^admin: .*$/m, 'admin: 127.0.0.1:0')
    .replace(/^( {2}url: )http:\/\/127\.0\.0\.1:8000(.*)$/m, `$1${up.url}$2`);
  const a = original.split('\n');
  const b = copy.split('\n');
  t.equal(b.length, a.length);
  t.same(a.map((l, i) => (l === b[i] ? null : l.split(':')[0]!.trim())).filter((x) => x !== null), ['listen', 'admin', 'url'], 'the copy differs from the example only in its three addresses');

  const dir = mkdtempSync(join(tmpdir(), 'hookgate-start-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hookgate.example.yaml');
  writeFileSync(file, copy);
  // the environment of npm start: nothing hookgate-specific
  const env: NodeJS.ProcessEnv = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('HOOKGATE_')) env[k] = '';
  const p = spawnHookgate(t, ['run', '--config', file], env);
  const { traffic, admin } = await p.started();
  const startLine = p.lines.find((l) => l.msg === 'hookgate listening');
  t.match(startLine, { backend: 'embedded', limits: 'memory', mode: 'enforce' }, 'the embedded ledger and the memory limit store');

  let ready = 0;
  await until(async () => {
    const res = await request(`${admin}/readyz`);
    await res.body.dump();
    ready = res.statusCode;
    return ready === 200;
  }, '/readyz answers 200');
  t.equal(ready, 200, 'ready on the admin port');
  const health = await request(`${admin}/healthz`);
  t.equal(health.statusCode, 200);
  await health.body.dump();

  const routes = (parse(original) as { routes: ExampleRoute[] }).routes;
  const stripeRoute = routes.find((r) => r.provider === 'stripe')!;
  const payload = JSON.stringify({ id: `evt_npm_start_${Date.now()}`, type: 'invoice.paid' });
  const headers = { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: stripeRoute.secrets[0]! }) };
  const first = await request(`${traffic}${stripeRoute.path}`, { method: 'POST', headers, body: payload });
  t.equal(first.statusCode, 200);
  t.equal(first.headers['hookgate-outcome'], 'forwarded');
  t.equal(await first.body.text(), `app got ${stripeRoute.path}`);
  t.ok(up.received[0]?.body.equals(Buffer.from(payload)), 'the upstream got the bytes');
  const retry = await request(`${traffic}${stripeRoute.path}`, { method: 'POST', headers, body: payload });
  t.equal(retry.headers['hookgate-outcome'], 'duplicate', 'the retry is answered by the embedded ledger');
  await retry.body.dump();

  const github = routes.find((r) => r.provider === 'github')!;
  const forged = await request(`${traffic}${github.path}`, { method: 'POST', headers: { 'x-hub-signature-256': await sign('not-the-example-secret', '{}') }, body: '{}' });
  t.equal(forged.statusCode, 401, 'a forgery on the example github route is refused');
  await forged.body.dump();
  t.equal(up.received.length, 1);

  p.child.kill('SIGTERM');
  t.same(await p.exited, { code: 0, signal: null });
});
