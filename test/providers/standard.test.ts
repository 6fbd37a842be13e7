import t from 'tap';
import { Webhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { getScheme } from '../../src/providers/index.js';
import { BODY, NOW, T, runCommonCases, verify } from './harness.js';

const SECRET = 'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
const OTHER = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const payload = BODY.toString('utf8');

runCommonCases(t, {
  name: 'standard',
  label: 'standard (webhook-* headers)',
  secret: SECRET,
  other: OTHER,
  signer: 'standardwebhooks Webhook#sign',
  sign: (secret, ts) => ({
    headers: { 'webhook-id': 'msg_test_1', 'webhook-timestamp': String(ts), 'webhook-signature': new Webhook(secret).sign('msg_test_1', new Date(ts * 1000), payload) },
    body: BODY,
  }),
  header: 'webhook-signature',
  timestamped: true,
  id: 'msg_test_1',
});

runCommonCases(t, {
  name: 'standard',
  label: 'standard (svix-* headers)',
  secret: SECRET,
  other: OTHER,
  signer: 'svix Webhook#sign',
  sign: (secret, ts) => ({
    headers: { 'svix-id': 'msg_test_1', 'svix-timestamp': String(ts), 'svix-signature': new SvixWebhook(secret).sign('msg_test_1', new Date(ts * 1000), payload) },
    body: BODY,
  }),
  header: 'svix-signature',
  timestamped: true,
  id: 'msg_test_1',
});

t.test('standard: the published vector of the reference library verifies, under both header spellings', async (t) => {
  const body = Buffer.from('{"test": 2432232314}');
  for (const p of ['webhook', 'svix']) {
    const v = verify('standard', [OTHER], {
      headers: { [`${p}-id`]: 'msg_p5jXN8AQM9LWM0D4loKWxJek', [`${p}-timestamp`]: '1614265330', [`${p}-signature`]: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' },
      body,
    }, 1614265330_000);
    // the verdict names the headers this delivery's signature covered: its own family's, never the other's
    t.same(v, { ok: true, secretIndex: 0, id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', timestamp: 1614265330_000, headers: [`${p}-id`, `${p}-timestamp`] }, p);
  }
});

t.test('standard: the self-computed fixture of providers.md §5.2 verifies', async (t) => {
  const v = verify('standard', [SECRET], { headers: { 'webhook-id': 'msg_test_1', 'webhook-timestamp': '1700000000', 'webhook-signature': 'v1,H+D3Fp6iCVTpU03U2dwAcebHRohhy3NYfF+OKuJ9e8g=' }, body: BODY });
  t.same(v, { ok: true, secretIndex: 0, id: 'msg_test_1', timestamp: NOW, headers: ['webhook-id', 'webhook-timestamp'] });
});

t.test('standard: a space-separated list matches on any v1 entry; v1a and unknown versions are skipped', async (t) => {
  const good = new Webhook(SECRET).sign('msg_test_1', new Date(T * 1000), payload);
  const list = `v1a,${Buffer.alloc(64).toString('base64')} v1,${Buffer.alloc(32).toString('base64')} ${good}`;
  t.equal(verify('standard', [SECRET], { headers: { 'webhook-id': 'msg_test_1', 'webhook-timestamp': String(T), 'webhook-signature': list }, body: BODY }).ok, true);
  const onlyV1a = verify('standard', [SECRET], { headers: { 'webhook-id': 'msg_test_1', 'webhook-timestamp': String(T), 'webhook-signature': good.replace('v1,', 'v1a,') }, body: BODY });
  t.equal(!onlyV1a.ok && onlyV1a.code, 'signature_invalid');
});

t.test('standard: the id and timestamp are signed: changing either is refused', async (t) => {
  const sig = new Webhook(SECRET).sign('msg_test_1', new Date(T * 1000), payload);
  const otherId = verify('standard', [SECRET], { headers: { 'webhook-id': 'msg_test_2', 'webhook-timestamp': String(T), 'webhook-signature': sig }, body: BODY });
  const otherTs = verify('standard', [SECRET], { headers: { 'webhook-id': 'msg_test_1', 'webhook-timestamp': String(T + 1), 'webhook-signature': sig }, body: BODY });
  t.equal(!otherId.ok && otherId.code, 'signature_invalid');
  t.equal(!otherTs.ok && otherTs.code, 'signature_invalid');
});

t.test('standard: a missing id or timestamp header, or a non-numeric timestamp, is malformed', async (t) => {
  const sig = new Webhook(SECRET).sign('msg_test_1', new Date(T * 1000), payload);
  const cases = [
    { 'webhook-timestamp': String(T), 'webhook-signature': sig },
    { 'webhook-id': 'msg_test_1', 'webhook-signature': sig },
    { 'webhook-id': 'msg_test_1', 'webhook-timestamp': '2023-11-14T22:13:20Z', 'webhook-signature': sig },
  ];
  for (const headers of cases as Record<string, string>[]) {
    const v = verify('standard', [SECRET], { headers, body: BODY });
    t.equal(!v.ok && v.code, 'malformed', Object.keys(headers).join(','));
  }
});

t.test('standard: key() refuses a secret that is not base64, without quoting it', async (t) => {
  const scheme = getScheme('standard')!;
  t.throws(() => scheme.key('whsec_not*base64!', { toleranceMs: 1, publicUrl: null }), /not valid base64/);
  try {
    scheme.key('whsec_not*base64!', { toleranceMs: 1, publicUrl: null });
  } catch (e) {
    t.notMatch((e as Error).message, 'not*base64!');
  }
  t.doesNotThrow(() => scheme.key('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', { toleranceMs: 1, publicUrl: null }), 'the whsec_ prefix is optional');
});

t.test('standard: our sign() is accepted by standardwebhooks and svix verify (webhook-* and svix-* names)', async (t) => {
  const now = Math.floor(Date.now() / 1000);
  const h = getScheme('standard')!.sign({ secret: SECRET, body: BODY, url: '', method: 'POST', timestamp: now, id: 'msg_ours' });
  t.same(new Webhook(SECRET).verify(payload, h), JSON.parse(payload));
  t.same(new SvixWebhook(SECRET).verify(payload, h), JSON.parse(payload));
  const svixNames = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.replace('webhook-', 'svix-'), v]));
  t.same(new SvixWebhook(SECRET).verify(payload, svixNames), JSON.parse(payload));
  t.equal(h['webhook-id'], 'msg_ours');
});
