// `hookgate sign` prints headers that the providers' own verifiers accept.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { verify as githubVerify } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import { runCli } from '../helpers/cli.js';
import { PROVIDER_NAMES } from '../../src/providers/index.js';

const dir = mkdtempSync(join(tmpdir(), 'hookgate-sign-'));
const bodyFile = join(dir, 'body.json');
const BODY = '{"id":"evt_sign_1","type":"x"}';
writeFileSync(bodyFile, BODY);

function headersOf(out: string): Record<string, string> {
  const h: Record<string, string> = {};
  for (const line of out.trim().split('\n')) {
    const i = line.indexOf(': ');
    h[line.slice(0, i).toLowerCase()] = line.slice(i + 2);
  }
  return h;
}

t.test('stripe headers verify with the stripe package', async (t) => {
  const secret = 'whsec_sign_test_123';
  const r = await runCli(['sign', '--provider', 'stripe', '--secret', secret, '--body', bodyFile]);
  t.equal(r.code, 0, r.err);
  const h = headersOf(r.out);
  const event = new Stripe('sk_test_x').webhooks.constructEvent(BODY, h['stripe-signature']!, secret);
  t.equal(event.id, 'evt_sign_1');
});

t.test('github headers verify with @octokit/webhooks-methods, body from stdin', async (t) => {
  const r = await runCli(['sign', '--provider', 'github', '--secret', 's3cret', '--body', '-'], {}, BODY);
  t.equal(r.code, 0, r.err);
  t.ok(await githubVerify('s3cret', BODY, headersOf(r.out)['x-hub-signature-256']!));
});

t.test('standard headers with a chosen id and timestamp verify with standardwebhooks', async (t) => {
  const secret = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
  const ts = Math.floor(Date.now() / 1000);
  const r = await runCli(['sign', '--provider', 'standard', '--secret', secret, '--body', bodyFile, '--id', 'msg_42', '--timestamp', String(ts)]);
  t.equal(r.code, 0, r.err);
  const h = headersOf(r.out);
  t.equal(h['webhook-id'], 'msg_42');
  t.equal(h['webhook-timestamp'], String(ts));
  t.same(new Webhook(secret).verify(BODY, h), JSON.parse(BODY));
});

t.test('--curl prints a runnable command with the headers and the body file', async (t) => {
  const r = await runCli(['sign', '--provider', 'github', '--secret', 's', '--body', bodyFile, '--curl', 'http://127.0.0.1:8080/webhooks/github']);
  t.equal(r.code, 0);
  t.match(r.out, /^curl -sS -X POST 'http:\/\/127\.0\.0\.1:8080\/webhooks\/github' .*-H 'x-hub-signature-256: sha256=[0-9a-f]{64}'.* --data-binary '@.*body\.json'\n$/);
});

t.test('every scheme but generic can sign', async (t) => {
  const { generateKeyPairSync } = await import('node:crypto');
  const pem = (type: 'ed25519' | 'ec' | 'rsa') => {
    const { privateKey } = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
    const p = join(dir, `${type}.pem`);
    writeFileSync(p, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    return `@${p}`;
  };
  const secrets: Record<string, string> = { discord: pem('ed25519'), sendgrid: pem('ec'), standard: 'whsec_' + Buffer.alloc(24, 1).toString('base64') };
  // the JWT family's asymmetric providers sign with their algorithm's private key
  const rsa = pem('rsa');
  Object.assign(secrets, { plaid: pem('ec'), fusionauth: rsa, 'google-pubsub': rsa, 'bot-framework': rsa, 'azure-event-grid': rsa, paypal: rsa, 'aws-sns': rsa, wise: rsa, telnyx: pem('ed25519'), 'constant-contact': rsa });
  // generic and jwt are configured per route: nothing to sign with from the command line alone
  const { appleLikeChain } = await import('../helpers/test-ca.js');
  const apple = appleLikeChain();
  t.teardown(() => apple.close());
  const applePem = join(dir, 'apple.pem');
  writeFileSync(applePem, `${apple.leafKey}\n${apple.leaf}\n${apple.inter}\n${apple.root}`);
  secrets['apple-app-store'] = `@${applePem}`;
  const { getScheme } = await import('../../src/providers/index.js');
  const forms: Record<string, string> = { hex: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', base64: Buffer.from('sign-test-secret-0123456789').toString('base64'), whsec: secrets.standard! };
  for (const name of PROVIDER_NAMES.filter((n) => n !== 'generic' && n !== 'jwt')) {
    secrets[name] ??= forms[getScheme(name)!.info?.secret ?? ''] ?? 'plain-secret-0123456789';
    const body = name === 'twilio' ? 'Body=hi&From=%2B1' : name === 'mailgun' ? '{"event-data":{"id":"x"}}' : BODY;
    const f = join(dir, `${name}.body`);
    writeFileSync(f, body);
    const r = await runCli(['sign', '--provider', name, '--secret', secrets[name]!, '--body', f, '--url', 'https://hooks.example.com/x']);
    t.equal(r.code, 0, `${name}: ${r.err}`);
    if (name === 'mailgun') t.match(r.out, /"signature":\{"timestamp":"\d+","token":"[^"]+","signature":"[0-9a-f]{64}"\}/, 'mailgun signs inside the body');
    else t.match(r.out, /^[A-Za-z0-9-]+: \S/, `${name} prints headers`);
  }
});

t.test('jwt routes are configured per route: sign says so; an asymmetric provider given no PEM says what it needs', async (t) => {
  let r = await runCli(['sign', '--provider', 'jwt', '--secret', 'x']);
  t.equal(r.code, 2);
  t.match(r.err, /configured per route/);
  r = await runCli(['sign', '--provider', 'plaid', '--secret', 'not-a-key']);
  t.equal(r.code, 2);
  t.match(r.err, /plaid: signing needs a PEM private key for ES256/);
});

t.test('bad arguments are clear errors', async (t) => {
  let r = await runCli(['sign', '--provider', 'nope', '--secret', 'x']);
  t.equal(r.code, 2);
  t.match(r.err, /--provider must be one of .*stripe/);
  r = await runCli(['sign', '--provider', 'stripe']);
  t.equal(r.code, 2);
  t.match(r.err, /--secret is required/);
  r = await runCli(['sign', '--provider', 'stripe', '--secret', 'x', '--timestamp', 'yesterday']);
  t.equal(r.code, 2);
  t.match(r.err, /--timestamp must be unix seconds/);
  r = await runCli(['sign', '--provider', 'stripe', '--secret', 'x', '--body', join(dir, 'missing')]);
  t.equal(r.code, 2);
  t.match(r.err, /ENOENT/);
  r = await runCli(['sign', '--provider', 'stripe', '--secret', 'x', '--bogus']);
  t.equal(r.code, 2);
  t.match(r.err, /Unknown option '--bogus'/);
});
