import t from 'tap';
import { createHmac } from 'node:crypto';
import { BODY, SECRET, runCommonCases, verify } from './harness.js';

// no official signer: node:crypto per Typeform's docs (base64, unlike GitHub's hex)
const sign = (secret: string) => 'sha256=' + createHmac('sha256', secret).update(BODY).digest('base64');

runCommonCases(t, {
  name: 'typeform',
  other: 'other_secret',
  signer: 'node:crypto (Typeform has no signer)',
  sign: (secret) => ({ headers: { 'Typeform-Signature': sign(secret) }, body: BODY }),
  header: 'typeform-signature',
  timestamped: false,
  id: undefined,
});

t.test('typeform: the self-computed fixture of providers.md §5.2 verifies', async (t) => {
  t.same(verify('typeform', [SECRET], { headers: { 'typeform-signature': 'sha256=I/pe0yzrzPoYN5viWfXFEy2YMa8fp1lRYwyNHPYpb44=' }, body: BODY }), { ok: true, secretIndex: 0 });
});

t.test('typeform: a hex digest (the GitHub habit) is refused', async (t) => {
  const v = verify('typeform', [SECRET], { headers: { 'typeform-signature': 'sha256=' + createHmac('sha256', SECRET).update(BODY).digest('hex') }, body: BODY });
  t.equal(v.ok, false);
});
