import t from 'tap';
import { createHmac } from 'node:crypto';
import { BODY, SECRET, runCommonCases, verify } from './harness.js';

// no official signer: node:crypto per Intercom's docs
const NOTIF = Buffer.from('{"type":"notification_event","id":"notif_ccd8a4d2-2b3c-4c50-9bd0-9e1cbd33b4de","topic":"ping","data":{"item":{}}}');
const sign = (secret: string) => 'sha1=' + createHmac('sha1', secret).update(NOTIF).digest('hex');

runCommonCases(t, {
  name: 'intercom',
  other: 'other_secret',
  signer: 'node:crypto (Intercom has no signer)',
  sign: (secret) => ({ headers: { 'X-Hub-Signature': sign(secret) }, body: NOTIF }),
  header: 'x-hub-signature',
  timestamped: false,
  id: 'notif_ccd8a4d2-2b3c-4c50-9bd0-9e1cbd33b4de',
});

t.test('intercom: the self-computed fixture of providers.md §5.2 verifies', async (t) => {
  t.same(verify('intercom', [SECRET], { headers: { 'x-hub-signature': 'sha1=d5b63722743eaf65c3ad4d2da2e86f73b20f6c1d' }, body: BODY }), { ok: true, secretIndex: 0, id: 'evt_123' });
});

t.test("intercom: a Bitbucket-style sha256= value under the same header name is malformed, not a match", async (t) => {
  const v = verify('intercom', [SECRET], { headers: { 'x-hub-signature': 'sha256=' + createHmac('sha256', SECRET).update(NOTIF).digest('hex') }, body: NOTIF });
  t.equal(!v.ok && v.code, 'malformed');
});
