import t from 'tap';
import { createHmac } from 'node:crypto';
import { BODY, SECRET, runCommonCases, verify } from './harness.js';

// no official signer: node:crypto per Atlassian's docs
const sign = (secret: string) => 'sha256=' + createHmac('sha256', secret).update(BODY).digest('hex');

runCommonCases(t, {
  name: 'bitbucket',
  other: 'other_secret',
  signer: 'node:crypto (Bitbucket has no signer)',
  sign: (secret) => ({ headers: { 'X-Hub-Signature': sign(secret), 'X-Request-UUID': 'a1b2' }, body: BODY }),
  header: 'x-hub-signature',
  timestamped: false,
  id: undefined, // X-Request-UUID is not signed
});

t.test('bitbucket: the self-computed fixture of providers.md §5.2 verifies', async (t) => {
  t.same(verify('bitbucket', [SECRET], { headers: { 'x-hub-signature': 'sha256=23fa5ed32cebccfa18379be259f5c5132d9831af1fa75951630c8d1cf6296f8e' }, body: BODY }), { ok: true, secretIndex: 0 });
});

t.test('bitbucket: a sha1= value under the same header name (Intercom, GitHub legacy) is malformed', async (t) => {
  const v = verify('bitbucket', [SECRET], { headers: { 'x-hub-signature': 'sha1=' + createHmac('sha1', SECRET).update(BODY).digest('hex') }, body: BODY });
  t.equal(!v.ok && v.code, 'malformed');
});
