import t from 'tap';
import { Webhook } from 'standardwebhooks';
import { getScheme } from '../../src/providers/index.js';
import { BODY, NOW, SECRET, T, runCommonCases, verify } from './harness.js';

const SIGNING = 'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
const SIGNING_OTHER = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const payload = BODY.toString('utf8');
const signed = (secret: string, ts: number, id = 'a3b2c1d0-idem') => ({
  'webhook-id': id,
  'webhook-timestamp': String(ts),
  'webhook-signature': new Webhook(secret).sign(id, new Date(ts * 1000), payload),
  'Idempotency-Key': id,
});

// The classic secret token: GitLab sends it verbatim; there is nothing to sign with, so no official signer exists.
runCommonCases(t, {
  name: 'gitlab',
  label: 'gitlab (X-Gitlab-Token)',
  other: 'other_token',
  signer: 'GitLab (the token itself)',
  sign: (secret) => ({ headers: { 'X-Gitlab-Token': secret, 'X-Gitlab-Event': 'Push Hook', 'Idempotency-Key': 'k1' }, body: BODY }),
  header: 'x-gitlab-token',
  timestamped: false,
  id: undefined, // a token signs nothing: the key is the digest of the body
  bodyUnsigned: true,
  garbled: 'signature_invalid', // any string is a possible token
  joined: 'signature_invalid',
});

// The signing token: Standard Webhooks under GitLab's name.
runCommonCases(t, {
  name: 'gitlab',
  label: 'gitlab (signing token, Standard Webhooks)',
  secret: SIGNING,
  other: SIGNING_OTHER,
  signer: 'standardwebhooks Webhook#sign',
  sign: (secret, ts) => ({ headers: signed(secret, ts), body: BODY }),
  header: 'webhook-signature',
  timestamped: true,
  id: 'a3b2c1d0-idem', // webhook-id is signed (GitLab sets it to the Idempotency-Key)
});

t.test('gitlab: a changed body passes with the token alone (the token signs nothing), but not with a signing token', async (t) => {
  const changed = Buffer.from('{"tampered":true}');
  t.equal(verify('gitlab', [SECRET], { headers: { 'x-gitlab-token': SECRET }, body: changed }).ok, true, 'token: documented limitation');
  t.equal(verify('gitlab', [SIGNING], { headers: signed(SIGNING, T), body: changed }).ok, false, 'signing token');
});

t.test('gitlab: with a token and a signing token configured, both must verify', async (t) => {
  const both = { ...signed(SIGNING, T), 'x-gitlab-token': SECRET };
  const v = verify('gitlab', [SECRET, SIGNING], { headers: both, body: BODY });
  t.same(v, { ok: true, secretIndex: 1, id: 'a3b2c1d0-idem', timestamp: NOW, headers: ['webhook-id', 'webhook-timestamp'] }, 'reports the signing secret and the headers it covered');
  const noToken = verify('gitlab', [SECRET, SIGNING], { headers: signed(SIGNING, T), body: BODY });
  t.equal(!noToken.ok && noToken.code, 'signature_missing', 'token missing');
  const wrongToken = verify('gitlab', [SECRET, SIGNING], { headers: { ...both, 'x-gitlab-token': 'nope' }, body: BODY });
  t.equal(!wrongToken.ok && wrongToken.code, 'signature_invalid', 'token wrong');
  const noSig = verify('gitlab', [SECRET, SIGNING], { headers: { 'x-gitlab-token': SECRET }, body: BODY });
  t.equal(!noSig.ok && noSig.code, 'signature_missing', 'signature missing');
  const stale = verify('gitlab', [SECRET, SIGNING], { headers: both, body: BODY }, NOW + 3_600_000);
  t.equal(!stale.ok && stale.code, 'timestamp_out_of_tolerance', 'stale signature');
});

t.test('gitlab: a signature header is ignored when no signing token is configured (it cannot be checked)', async (t) => {
  const v = verify('gitlab', [SECRET], { headers: { ...signed(SIGNING, T), 'x-gitlab-token': SECRET }, body: BODY });
  t.same(v, { ok: true, secretIndex: 0, headers: [] }, 'a secret token covers no header');
});

t.test('gitlab: tokens of any length compare without error', async (t) => {
  for (const token of ['x', SECRET + SECRET, SECRET.slice(0, -1)]) {
    const v = verify('gitlab', [SECRET], { headers: { 'x-gitlab-token': token }, body: BODY });
    t.equal(!v.ok && v.code, 'signature_invalid', `${token.length} chars`);
  }
});

t.test('gitlab: sign() sends the token, or the signing headers with a matching Idempotency-Key', async (t) => {
  const s = getScheme('gitlab')!;
  t.same(s.sign({ secret: SECRET, body: BODY, url: '', method: 'POST', timestamp: T, id: 'k9' }), { 'x-gitlab-token': SECRET, 'idempotency-key': 'k9' });
  const h = s.sign({ secret: SIGNING, body: BODY, url: '', method: 'POST', timestamp: Math.floor(Date.now() / 1000), id: 'k9' });
  t.equal(h['idempotency-key'], 'k9');
  t.same(new Webhook(SIGNING).verify(payload, h), JSON.parse(payload), 'standardwebhooks accepts it');
});
