// `hookgate run` as a real process wires the limiters: a tenant's quota on the shared Redis holds, the
// 429 carries Retry-After, and SIGTERM still exits 0 with the Redis connection open.
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import Stripe from 'stripe';
import { Redis } from 'ioredis';
import { startUpstream } from '../helpers/upstream.js';
import { requireRedis, SHARED_REDIS_URL } from '../helpers/redis-server.js';

const BIN = fileURLToPath(new URL('../../../bin/hookgate.js', import.meta.url));
const REDIS_URL = SHARED_REDIS_URL;
const SECRET = 'whsec_limits_run_secret';
const stripe = new Stripe('sk_test_dummy');

t.test('hookgate run limits a tenant through Redis', async (t) => {
  if (!(await requireRedis(t))) return;
  // A tenant name of its own: the process uses the default key prefix on the shared Redis.
  const tenant = `limits-run-${randomBytes(6).toString('hex')}`;
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  t.teardown(async () => {
    const keys = await redis.keys(`hookgate:rl:t:*:${tenant}`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
  const up = await startUpstream();
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-limits-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(
    file,
    `listen: 127.0.0.1:0
admin: 127.0.0.1:0
upstream: { url: "${up.url}" }
limits:
  store: ${REDIS_URL}
  tenants: { "${tenant}": 3/h }
routes:
  - { path: /webhooks/stripe, provider: stripe, tenant: ${tenant}, secrets: [env:STRIPE_SECRET] }
`,
  );

  const child = spawn(process.execPath, [BIN, 'run', '--config', file], { env: { ...process.env, STRIPE_SECRET: SECRET }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) (child.kill('SIGKILL'), await exited);
  });
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  child.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) {
      try {
        lines.push(JSON.parse(buf.slice(0, i)));
      } catch {
        // not JSON: ignored
      }
    }
  });
  let started: Record<string, unknown> | undefined;
  for (let i = 0; i < 1500 && !started && child.exitCode === null; i++) {
    started = lines.find((l) => typeof l.traffic === 'string' && typeof l.admin === 'string'); // the startup line
    if (!started) await sleep(20);
  }
  if (!started) return t.fail(`no startup line: ${JSON.stringify(lines).slice(0, 1000)}`);
  t.equal(started.limits, 'redis');

  const statuses: number[] = [];
  let last;
  for (let i = 0; i < 5; i++) {
    const payload = JSON.stringify({ id: `evt_${tenant}_${i}`, type: 'invoice.paid' });
    last = await request(`${started.traffic}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }) },
      body: payload,
    });
    statuses.push(last.statusCode);
    if (i < 4) await last.body.dump();
  }
  t.same(statuses, [200, 200, 200, 429, 429], 'three an hour, then 429');
  t.equal(last!.headers['hookgate-outcome'], 'rate_limited');
  t.ok(Number(last!.headers['retry-after']) > 60, 'Retry-After: seconds until the hour window resets');
  await last!.body.dump();
  t.equal(Number(await redis.get(`hookgate:rl:t:3600000:${tenant}`)), 5, 'counted in the shared Redis under the default prefix');
  t.notOk(lines.some((l) => l.level === 40 && l.store !== undefined), 'no warning about the limit store');

  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM drains and exits 0');
});
