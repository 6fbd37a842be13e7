// The image's runtime stage, without Docker: the same files the Dockerfile copies (package.json,
// package-lock.json, bin/, dist/src/) in a fresh folder, production dependencies installed by
// `npm ci --omit=dev` (the native better-sqlite3 built or fetched as in the image), then the
// image's command. What a user of the image sees: the gateway starts, answers its health
// endpoints, forwards a signed delivery through the on-disk embedded ledger, and exits 0 on
// SIGTERM. Slow (npm ci): one test.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/helm.js';

t.setTimeout(15 * 60_000); // npm ci may compile better-sqlite3 from source on a busy 2-core machine

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function httpCall(port: number, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // agent: false, one connection a request: nothing keeps the gateway's listeners busy at SIGTERM.
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false, timeout: 10_000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('the production tree installs with npm ci --omit=dev, serves /healthz, forwards, and exits 0 on SIGTERM', async (t) => {
  const main = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  if (!t.ok(existsSync(main), 'dist/src/cli/main.js exists (compile first: npx tsc -p .)')) return;

  const app = mkdtempSync(join(tmpdir(), 'hookgate-image-'));
  t.teardown(() => rmSync(app, { recursive: true, force: true }));
  // Exactly what the runtime stage copies.
  for (const f of ['package.json', 'package-lock.json']) cpSync(join(repoRoot, f), join(app, f));
  cpSync(join(repoRoot, 'bin'), join(app, 'bin'), { recursive: true });
  cpSync(join(repoRoot, 'dist', 'src'), join(app, 'dist', 'src'), { recursive: true });

  const ci = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts=false', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: app, encoding: 'utf8', timeout: 14 * 60_000, env: { ...process.env, NODE_ENV: 'production' },
  });
  if (!t.equal(ci.status, 0, 'npm ci --omit=dev --ignore-scripts=false', { stderr: (ci.stderr ?? '').split('\n').slice(-20).join('\n') })) return;
  t.ok(existsSync(join(app, 'node_modules', 'fastify')), 'production dependencies installed');
  t.ok(existsSync(join(app, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node')), 'the native addon is built');
  t.notOk(existsSync(join(app, 'node_modules', 'tap')), 'no dev dependencies (tap)');
  t.notOk(existsSync(join(app, 'node_modules', 'typescript')), 'no dev dependencies (typescript)');

  // An upstream that records what reached it.
  const received: Array<{ path: string; body: string }> = [];
  const upstream: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => { received.push({ path: req.url ?? '', body }); res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'); });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise((r) => upstream.close(r)));
  const upstreamPort = (upstream.address() as AddressInfo).port;

  const secret = 'whsec_' + 'production-tree-test-secret';
  const configFile = join(app, 'hookgate.yaml');
  writeFileSync(configFile, [
    // Port 0: the gateway binds and its startup line says where (no port picked here and bound later).
    'listen: 127.0.0.1:0',
    'admin: 127.0.0.1:0',
    'upstream:',
    `  url: http://127.0.0.1:${upstreamPort}`,
    '  timeout: 5s',
    'ledger:',
    `  url: embedded:${join(app, 'var', 'ledger.db')}`,
    'routes:',
    '  - path: /webhooks/stripe',
    '    provider: stripe',
    '    tenant: acme',
    '    secrets: [env:STRIPE_WEBHOOK_SECRET]',
    '',
  ].join('\n'));

  let output = '';
  const child: ChildProcess = spawn(process.execPath, ['bin/hookgate.js', 'run', '--config', configFile], {
    cwd: app, env: { ...process.env, NODE_ENV: 'production', STRIPE_WEBHOOK_SECRET: secret }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  // Shown only when an assertion fails.
  const logs = () => ({ gatewayOutput: output.split('\n').slice(-15).join('\n') });

  // Bounded wait for the startup line naming the two listeners (the process may also die: then stop waiting).
  const listening = (): { traffic: string; admin: string } | undefined => {
    for (const line of output.split('\n')) {
      try {
        const l = JSON.parse(line);
        if (typeof l.traffic === 'string' && typeof l.admin === 'string') return l;
      } catch { /* not a JSON line */ }
    }
    return undefined;
  };
  for (let i = 0; i < 600 && child.exitCode === null && !listening(); i++) await sleep(100);
  const at = listening();
  if (!t.ok(at, 'the startup line names the traffic and admin listeners', logs())) return;
  const listenPort = Number(new URL(at!.traffic).port);
  const adminPort = Number(new URL(at!.admin).port);
  let health: Answer | undefined;
  for (let i = 0; i < 300 && child.exitCode === null; i++) {
    health = await httpCall(adminPort, 'GET', '/healthz').catch(() => undefined);
    if (health) break;
    await sleep(100);
  }
  if (!t.equal(health?.status, 200, 'GET /healthz on the admin port', logs())) return;
  let ready: Answer | undefined;
  for (let i = 0; i < 100; i++) {
    ready = await httpCall(adminPort, 'GET', '/readyz').catch(() => undefined);
    if (ready?.status === 200) break;
    await sleep(100);
  }
  t.equal(ready?.status, 200, 'GET /readyz: config loaded, embedded ledger reachable', logs());

  // A signed Stripe delivery goes through the production tree's verifier and ledger to the upstream.
  const body = JSON.stringify({ id: 'evt_production_tree', type: 'ping', created: 1 });
  const ts = Math.floor(Date.now() / 1000);
  const sig = createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
  const headers = { 'content-type': 'application/json', 'stripe-signature': `t=${ts},v1=${sig}` };
  const first = await httpCall(listenPort, 'POST', '/webhooks/stripe', body, headers);
  t.equal(first.status, 200, 'a signed delivery is forwarded', logs());
  t.equal(first.headers['hookgate-outcome'], 'forwarded');
  t.same(received, [{ path: '/webhooks/stripe', body }], 'the upstream got the exact bytes once');
  const again = await httpCall(listenPort, 'POST', '/webhooks/stripe', body, headers);
  t.equal(again.headers['hookgate-outcome'], 'duplicate', 'the redelivery is answered from the ledger');
  t.equal(received.length, 1, 'and does not reach the upstream');
  const unsigned = await httpCall(listenPort, 'POST', '/webhooks/stripe', body, { 'content-type': 'application/json' });
  t.equal(unsigned.status, 401, 'an unsigned one is refused');

  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'no exit within 60s'>((r) => (timer = setTimeout(() => r('no exit within 60s'), 60_000)));
  const end = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  t.same(end, { code: 0, signal: null }, 'exit 0 after SIGTERM', logs());
  t.notMatch(output, secret, 'the secret never appears in the output');
});
