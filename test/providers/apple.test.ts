// Apple App Store Server Notifications V2: tokens signed by jose with an x5c chain made for the run in
// Apple's shape (the pinned root replaced through the fetcher's trustedRoots, tests only), and the
// attacks Apple's own library guards against: a chain to another root, an Apple-rooted certificate
// without the App Store marker OIDs, a notification for another app, alg other than ES256.
import t from 'tap';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { CompactSign } from 'jose';
import { getScheme } from '../../src/providers/index.js';
import { APPLE_ROOT_CA_G3 } from '../../src/providers/apple.js';
import type { Fetcher } from '../../src/providers/remote.js';
import type { SchemeOptions, Verdict } from '../../src/providers/types.js';
import { appleLikeChain, type AppleLikeChain } from '../helpers/test-ca.js';

const good = appleLikeChain();
const noOids = appleLikeChain({ oids: false });
const other = appleLikeChain();
t.teardown(() => [good, noOids, other].forEach((c) => c.close()));
const opts: SchemeOptions = { toleranceMs: 300_000, publicUrl: null };
const der = (pem: string) => new X509Certificate(pem).raw.toString('base64');
const scheme = getScheme('apple-app-store')!;
const NOW = Date.now();
const PAYLOAD = { notificationType: 'DID_RENEW', notificationUUID: '002e14d5-51f5-4503-b5a8-c3a1af68eb20', data: { bundleId: 'com.example.app', environment: 'Sandbox' }, version: '2.0', signedDate: NOW };

async function delivery(chain: AppleLikeChain, payload: object = PAYLOAD, alg = 'ES256', x5c = [der(chain.leaf), der(chain.inter), der(chain.root)]): Promise<Buffer> {
  const jws = await new CompactSign(Buffer.from(JSON.stringify(payload))).setProtectedHeader({ alg, x5c }).sign(createPrivateKey(chain.leafKey));
  return Buffer.from(JSON.stringify({ signedPayload: jws }));
}

function verify(body: Buffer, roots: string[] = [good.root], bundles = ['com.example.app']): Verdict {
  const fetcher = Object.assign(async () => Buffer.alloc(0), { trustedRoots: roots }) as Fetcher;
  const r = scheme.remote!(opts, fetcher).resolve({ method: 'POST', url: '/', headers: {}, body }, NOW) as { ok: true; material: unknown };
  return scheme.verify({ method: 'POST', url: '/a', headers: { 'content-type': 'application/json' }, body }, bundles.map((b) => scheme.key(b, opts)), opts, NOW, r.material);
}

t.test('the pinned root is Apple Root CA - G3 (the fingerprint Apple publishes)', async (t) => {
  t.equal(new X509Certificate(APPLE_ROOT_CA_G3).fingerprint256, '63:34:3A:BF:B8:9A:6A:03:EB:B5:7E:9B:3F:5F:A7:BE:7C:4F:5C:75:6F:30:17:B3:A8:C4:88:C3:65:3E:91:79');
});

t.test('a notification signed by the App Store chain verifies; the key is notificationUUID', async (t) => {
  t.same(verify(await delivery(good), [good.root], ['com.other', 'com.example.app']), { ok: true, secretIndex: 1, id: PAYLOAD.notificationUUID, timestamp: NOW });
});

t.test('attacks: another root, no App Store OIDs, another app, a changed payload, another algorithm', async (t) => {
  t.match(verify(await delivery(other)), { ok: false, code: 'signature_invalid', message: /Apple Root CA - G3/ }, 'a chain to a root that is not pinned');
  t.match(verify(await delivery(noOids), [noOids.root]), { ok: false, code: 'signature_invalid', message: /not App Store signing/ }, 'an Apple-rooted chain without the marker OIDs');
  t.match(verify(await delivery(good, { ...PAYLOAD, data: { bundleId: 'com.attacker.app' } })), { ok: false, code: 'signature_invalid', message: /app this route does not accept/ }, "another app's genuine notification");
  t.match(verify(await delivery(good, PAYLOAD, 'ES256', [der(good.leaf), der(other.inter), der(good.root)])), { ok: false, code: 'signature_invalid' }, 'a mixed chain');
  const body = await delivery(good);
  const token = (JSON.parse(body.toString()) as { signedPayload: string }).signedPayload.split('.');
  token[1] = Buffer.from(JSON.stringify({ ...PAYLOAD, notificationType: 'REFUND' })).toString('base64url');
  t.match(verify(Buffer.from(JSON.stringify({ signedPayload: token.join('.') }))), { ok: false, code: 'signature_invalid' }, 'a changed payload');
  t.match(verify(Buffer.from('{}')), { ok: false, code: 'signature_missing' });
  t.match(verify(Buffer.from('{"signedPayload":"x.y"}')), { ok: false, code: 'malformed' });
  t.throws(() => scheme.key('not a bundle id!', opts), /bundle id/);
});

t.test('hookgate sign: --secret holds the key and chain; the delivery verifies', async (t) => {
  const secret = `${good.leafKey}\n${good.leaf}\n${good.inter}\n${good.root}`;
  const body = scheme.signBody!({ secret, body: Buffer.from(JSON.stringify(PAYLOAD)), url: '', method: 'POST', timestamp: Math.floor(NOW / 1000), id: 'x' });
  t.match(verify(body), { ok: true, id: PAYLOAD.notificationUUID });
  t.throws(() => scheme.signBody!({ secret: good.leafKey, body: Buffer.alloc(0), url: '', method: 'POST', timestamp: 1, id: 'x' }), /three certificates/);
});
