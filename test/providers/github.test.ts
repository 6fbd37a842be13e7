import t from 'tap';
import { sign, verify as octokitVerify } from '@octokit/webhooks-methods';
import { getScheme } from '../../src/providers/index.js';
import { BODY, SECRET, runCommonCases, verify } from './harness.js';

// @octokit/webhooks-methods is ESM-only and async; sign ahead of the synchronous table
const signed = new Map<string, string>();
for (const s of [SECRET, 'other_secret']) signed.set(s, await sign(s, BODY.toString('utf8')));

runCommonCases(t, {
  name: 'github',
  other: 'other_secret',
  signer: '@octokit/webhooks-methods sign',
  sign: (secret) => ({ headers: { 'X-Hub-Signature-256': signed.get(secret)!, 'X-GitHub-Delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' }, body: BODY }),
  header: 'x-hub-signature-256',
  timestamped: false,
  id: undefined, // X-GitHub-Delivery is not signed
});

t.test("github: the published vector (It's a Secret to Everybody / Hello, World!) verifies", async (t) => {
  const v = verify('github', ["It's a Secret to Everybody"], {
    headers: { 'x-hub-signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17' },
    body: Buffer.from('Hello, World!'),
  });
  t.same(v, { ok: true, secretIndex: 0 });
});

t.test('github: the legacy SHA-1 header alone is not accepted', async (t) => {
  const v = verify('github', [SECRET], { headers: { 'x-hub-signature': 'sha1=0000000000000000000000000000000000000000' }, body: BODY });
  t.equal(!v.ok && v.code, 'signature_missing');
});

t.test('github: our sign() is accepted by @octokit/webhooks-methods verify', async (t) => {
  const h = getScheme('github')!.sign({ secret: SECRET, body: BODY, url: '', method: 'POST', timestamp: 0, id: 'd1' });
  t.equal(await octokitVerify(SECRET, BODY.toString('utf8'), h['x-hub-signature-256']!), true);
  t.equal(h['x-github-delivery'], 'd1');
});
