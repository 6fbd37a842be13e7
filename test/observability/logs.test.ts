// The log lines an operator reads: one line a delivery with its fields, and never a secret, a
// signature value or a byte of a body, across successful, failed and duplicate deliveries and reloads.
import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import Stripe from 'stripe';
import { sign as githubSign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway } from '../helpers/gateway.js';
import { loadConfigFile } from '../../src/config/load.js';
import { openLedger } from '../../src/ledger/index.js';
import { reloadFrom } from '../../src/cli/run.js';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';

const stripe = new Stripe('sk_test_dummy');
const FILE_SECRET = 'whsec_logs_FILE_secret_a1b2c3';
const ROTATED = 'whsec_logs_ROTATED_secret_d4e5f6';
const OLD = 'whsec_logs_OLD_secret_g7h8i9';
const GH = 'gh-logs-secret-j0k1l2';
const BAD_LITERAL = 'whsec_!!!LITERAL_secret_not_base64';
const env = { OLD, GH };
// Every body carries this; it must never reach a log line (the delivery id does, by design: it is the key).
const MARK = 'BODY-MARK-\u00e9\u2603-7f3a';

t.test('log lines', async (t) => {
  const up = await startUpstream((r, res) => {
    res.statusCode = r.url.includes('fail=1') ? 500 : 200;
    res.end(`app says ${MARK}`);
  });
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-logs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const secretFile = join(dir, 'stripe-secret');
  writeFileSync(secretFile, `${FILE_SECRET}\n`);
  const doc = (routes: unknown[]) => ({ upstream: { url: up.url }, routes });
  const routes = [
    { path: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', secrets: ['file:stripe-secret', 'env:OLD'] },
    { path: '/webhooks/:tenant/github', provider: 'github', tenant: 'param:tenant', secrets: { acme: ['env:GH'] } },
  ];
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, JSON.stringify(doc(routes)));
  const ledger = await openLedger({ url: 'embedded', retentionMs: 3_600_000, leaseMs: 30_000, cache: 100, migrate: true });
  // One logger for the gateway and the reloads (as in `hookgate run`), captured line by line.
  const lines: Record<string, unknown>[] = [];
  let text = '';
  const log = createLogger('info', new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString();
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  }));
  const gw = await startTestGateway(loadConfigFile(file, env).config, { ledger, logger: log });
  t.teardown(() => gw.close());

  const sentSignatures: string[] = [];
  const stripeDelivery = async (id: string, secret: string, query = '') => {
    const payload = JSON.stringify({ id, type: 'charge.succeeded', data: { note: MARK } });
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret });
    sentSignatures.push(header, header.split('v1=')[1]!);
    const res = await request(`${gw.url}/webhooks/stripe${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': header, authorization: `Bearer ${secret}` },
      body: payload,
    });
    await res.body.dump();
    return res;
  };
  // Delivery lines are written at the end of the event-loop turn that answered (src/observability/delivery-log.ts).
  const deliveryLines = async () => {
    await new Promise((r) => setImmediate(r));
    return lines.filter((l) => l.msg === 'delivery');
  };

  t.test('one line a delivery with route, provider, tenant, outcome, key, attempt, latency', async (t) => {
    const res = await stripeDelivery('evt_logs_1', FILE_SECRET);
    t.equal(res.statusCode, 200);
    const line = (await deliveryLines()).at(-1)!;
    t.match(line, { level: 30, route: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', outcome: 'forwarded', key: '/webhooks/stripe|acme|id:evt_logs_1', attempt: 1, status: 200 });
    t.type(line.ms, 'number');
    t.equal((await deliveryLines()).length, 1, 'exactly one line for one delivery');
  });

  t.test('failed, duplicate and unmatched deliveries are logged the same way', async (t) => {
    const before = (await deliveryLines()).length;
    t.equal((await stripeDelivery('evt_logs_1', FILE_SECRET)).headers['hookgate-outcome'], 'duplicate');
    t.equal((await stripeDelivery('evt_logs_2', 'whsec_logs_WRONG_secret')).statusCode, 401);
    t.equal((await stripeDelivery('evt_logs_3', OLD, '?fail=1')).statusCode, 500);
    t.equal((await stripeDelivery('evt_logs_3', OLD)).statusCode, 200, 'the retry after a release is attempt 2');
    const body = `{"action":"opened","note":"${MARK}"}`;
    const sig = await githubSign(GH, body);
    sentSignatures.push(sig, sig.slice('sha256='.length));
    const gh = await request(`${gw.url}/webhooks/acme/github`, { method: 'POST', headers: { 'x-hub-signature-256': sig, 'content-type': 'application/json' }, body });
    await gh.body.dump();
    t.equal(gh.statusCode, 200);
    const nf = await request(`${gw.url}/nowhere`, { method: 'POST', body: MARK });
    await nf.body.dump();
    const lines = (await deliveryLines()).slice(before);
    t.equal(lines.length, 6, 'one line each');
    t.match(lines[0], { outcome: 'duplicate', key: '/webhooks/stripe|acme|id:evt_logs_1', tenant: 'acme' });
    t.match(lines[1], { outcome: 'signature_invalid', route: '/webhooks/stripe', status: 401, key: null });
    t.match(lines[2], { outcome: 'forwarded', status: 500, attempt: 1, key: '/webhooks/stripe|acme|id:evt_logs_3' });
    t.match(lines[3], { outcome: 'forwarded', status: 200, attempt: 2, key: '/webhooks/stripe|acme|id:evt_logs_3' });
    t.match(lines[4], { outcome: 'forwarded', route: '/webhooks/:tenant/github', provider: 'github', tenant: 'acme', key: /^\/webhooks\/:tenant\/github\|acme\|sha256:[0-9a-f]{64}$/ });
    t.match(lines[5], { outcome: 'no_route', route: null, status: 404 });
  });

  t.test('reloads, valid and invalid, log what happened but no secret', async (t) => {
    writeFileSync(secretFile, ROTATED);
    t.equal(await reloadFrom(file, gw, log, env), true);
    t.ok(lines.some((l) => l.msg === 'configuration reloaded'));
    t.equal((await stripeDelivery('evt_logs_4', ROTATED)).statusCode, 200, 'the rotated secret is in force');

    // A literal secret the scheme refuses: the problem names the field, not the value.
    writeFileSync(file, JSON.stringify(doc([...routes, { path: '/webhooks/clerk', provider: 'standard', tenant: 'acme', secrets: [BAD_LITERAL] }])));
    t.equal(await reloadFrom(file, gw, log, env), false);
    // A YAML syntax error on the line that holds a literal secret: the parser's message must not quote it.
    writeFileSync(file, `upstream: {url: ${up.url}}\nroutes:\n  - path: /x\n    secrets: [${BAD_LITERAL}\n    provider: stripe: nested\n`);
    t.equal(await reloadFrom(file, gw, log, env), false);
    // An env var that is not set.
    writeFileSync(file, JSON.stringify(doc(routes)));
    t.equal(await reloadFrom(file, gw, log, { GH }), false);
    const failures = lines.filter((l) => l.msg === 'configuration reload failed; the previous configuration stays in force');
    t.equal(failures.length, 3);
    t.match(failures[0], { level: 50, problems: [/routes\[2\]\.secrets\[0\]/] });
    t.match(failures[2], { problems: ['routes[0].secrets[1]: env var OLD is not set'] });
    t.equal((await stripeDelivery('evt_logs_5', ROTATED)).statusCode, 200, 'the previous configuration stays in force');
  });

  // issue 13: a mistyped connection URL was echoed with its password by the failed reload's log line.
  t.test('a failed reload never logs a connection URL\'s password', async (t) => {
    const before = lines.length;
    writeFileSync(file, JSON.stringify({ ...doc(routes), ledger: { url: 'postgress://hookgate:pg-PASSWORD-x1@db.internal:5432/hooks' }, limits: { store: 'redis//default:redis-PASSWORD-y2@cache:6379' } }));
    t.equal(await reloadFrom(file, gw, log, env), false);
    const failed = lines.slice(before).find((l) => l.msg === 'configuration reload failed; the previous configuration stays in force');
    t.ok(failed, 'the failure is logged');
    t.match(failed, { problems: [/ledger\.url: .*postgress:\/\/\*\*\*@db\.internal:5432\/hooks/, /limits\.store: .*\*\*\*@cache:6379/] }, 'the problems still name the field and the host');
    const text = JSON.stringify(lines.slice(before));
    t.notMatch(text, /PASSWORD/, 'no password');
    writeFileSync(file, JSON.stringify(doc(routes)));
  });

  t.test('no secret, signature value or body byte in any line', async (t) => {
    
    t.ok(lines.length > 10, 'there are lines to look at');
    for (const s of [FILE_SECRET, ROTATED, OLD, GH, BAD_LITERAL, 'LITERAL_secret', 'whsec_logs_WRONG_secret']) t.notOk(text.includes(s), `secret ${s.slice(0, 12)}… is not logged`);
    t.ok(sentSignatures.length >= 12);
    for (const s of sentSignatures) t.notOk(text.includes(s), 'a signature value is not logged');
    for (const s of [MARK, 'BODY-MARK', 'charge.succeeded', '"action"', 'app says']) t.notOk(text.includes(s), `body bytes (${s}) are not logged`);
    t.notOk(/stripe-signature|x-hub-signature|authorization/i.test(text), 'no signature or authorization header at all');
  });
});
