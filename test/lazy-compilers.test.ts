// Fastify's schema compilers (ajv, fast-json-stringify and what they load) stay out of a running
// gateway until a route declares a schema; one that does is validated and serialized as before.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import Fastify from 'fastify';
import Stripe from 'stripe';
import { lazyCompilers } from '../src/lazy-compilers.js';
import { startUpstream } from './helpers/upstream.js';
import { BIN, spawnHookgate, until } from './helpers/hookgate-process.js';

const stripe = new Stripe('sk_test_dummy');

// Run before the gateway's own modules: on SIGUSR2 it writes the CommonJS modules loaded so far to stderr.
const PRELOAD = `data:text/javascript,${encodeURIComponent(
  "import { createRequire } from 'node:module';" +
    "const cache = createRequire(process.cwd() + '/').cache;" +
    "process.on('SIGUSR2', () => process.stderr.write('LOADED ' + JSON.stringify(Object.keys(cache)) + '\\n'));",
)}`;

const COMPILERS = /node_modules\/(ajv\/dist\/ajv\.js|@fastify\/ajv-compiler\/|fast-json-stringify\/index\.js|ajv-formats\/)/;

t.test('a running gateway, after a delivery and a scrape, has not loaded the schema compilers', async (t) => {
  const up = await startUpstream((_r, res) => {
    res.end('ok');
  });
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-lazy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, [
    'listen: 127.0.0.1:0',
    'admin: 127.0.0.1:0',
    `upstream: { url: "${up.url}" }`,
    'routes:',
    '  - { path: /stripe, provider: stripe, secrets: [whsec_lazy] }',
  ].join('\n'));
  const p = spawnHookgate(t, ['run', '--config', file], {}, ['--import', PRELOAD, BIN]);
  const { traffic, admin } = await p.started();
  const payload = JSON.stringify({ id: 'evt_lazy_1', type: 'invoice.paid' });
  const res = await request(`${traffic}/stripe`, { method: 'POST', headers: { 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_lazy' }) }, body: payload });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['hookgate-outcome'], 'forwarded');
  await res.body.dump();
  const bad = await request(`${traffic}/stripe`, { method: 'POST', headers: { 'stripe-signature': 't=1,v1=00' }, body: payload });
  t.equal(bad.statusCode, 401, 'a refusal, answered with its error body');
  await bad.body.dump();
  const metrics = await request(`${admin}/metrics`);
  t.match(await metrics.body.text(), /hookgate_requests_total\{[^}]*outcome="forwarded"\} 1/);

  p.child.kill('SIGUSR2');
  let loaded: string[] = [];
  await until(() => {
    const m = /^LOADED (.*)$/m.exec(p.stderr());
    if (m) loaded = JSON.parse(m[1]!) as string[];
    return m !== null;
  }, 'the preload listed the loaded modules');
  t.ok(loaded.some((f) => f.endsWith('node_modules/fastify/fastify.js')), 'the list is of this process (fastify is in it)');
  t.same(loaded.filter((f) => COMPILERS.test(f)), [], 'no schema compiler loaded');
  p.child.kill('SIGTERM');
  t.same(await p.exited, { code: 0, signal: null });
});

t.test('the list can tell: a Fastify with its default compilers loads them', async (t) => {
  const out = await new Promise<string>((resolve, reject) => {
    import('node:child_process').then(({ execFile }) =>
      execFile(process.execPath, ['--input-type=module', '-e', "import Fastify from 'fastify'; import { createRequire } from 'node:module'; Fastify(); console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));"], { cwd: BIN.replace(/bin\/hookgate\.js$/, '') }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
  });
  t.ok((JSON.parse(out) as string[]).some((f) => COMPILERS.test(f)));
});

t.test('a route that declares a schema gets the default compilers: validated, serialized', async (t) => {
  const app = Fastify({ schemaController: lazyCompilers });
  t.teardown(() => app.close());
  app.post('/s', {
    schema: {
      body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
      response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
    },
  }, async (req) => ({ n: (req.body as { n: number }).n, secret: 'dropped by the serializer' }));
  const ok = await app.inject({ method: 'POST', url: '/s', payload: { n: 3 } });
  t.equal(ok.statusCode, 200);
  t.same(ok.json(), { n: 3 }, 'the response schema serialized it (the extra field is gone)');
  const bad = await app.inject({ method: 'POST', url: '/s', payload: { n: 'x' } });
  t.equal(bad.statusCode, 400);
  t.match(bad.json(), { code: 'FST_ERR_VALIDATION' });
});
