// telnyx (Ed25519 over `timestamp|body`) and wise (SHA256withRSA over the body): signatures made here
// with node:crypto from the documented constructions (the official telnyx package is not installed;
// Wise publishes no verifier), independently of hookgate's signers, then hookgate sign's output checked.
import t from 'tap';
import { generateKeyPairSync, sign as cSign } from 'node:crypto';
import { getScheme } from '../../src/providers/index.js';
import type { SchemeOptions, SignedRequest, Verdict } from '../../src/providers/types.js';

const opts: SchemeOptions = { toleranceMs: 300_000, publicUrl: null };
const NOW_S = 1_700_000_000;
const BODY = Buffer.from('{"data":{"event_type":"message.received","id":"0ccc7b54-4df3-4bca-a65a-3da1ecc777f0","payload":{"text":"hi"}}}');
const verify = (name: string, secrets: string[], headers: Record<string, string>, body = BODY, now = NOW_S * 1000): Verdict => {
  const s = getScheme(name)!;
  const req: SignedRequest = { method: 'POST', url: '/h', headers, body };
  return s.verify(req, secrets.map((k) => s.key(k, opts)), opts, now);
};

const ed = () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { pub: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64'), key: privateKey };
};
const A = ed();
const B = ed();
const telnyxHeaders = (key = A.key, ts = NOW_S, body = BODY) => ({
  'telnyx-signature-ed25519': cSign(null, Buffer.concat([Buffer.from(`${ts}|`), body]), key).toString('base64'),
  'telnyx-timestamp': String(ts),
});

t.test('telnyx: genuine, rotation, wrong key, changed byte, stale, malformed', async (t) => {
  t.same(verify('telnyx', [A.pub], telnyxHeaders()), { ok: true, secretIndex: 0, timestamp: NOW_S * 1000, id: '0ccc7b54-4df3-4bca-a65a-3da1ecc777f0' });
  t.match(verify('telnyx', [B.pub, A.pub], telnyxHeaders()), { ok: true, secretIndex: 1 });
  t.match(verify('telnyx', [A.pub], telnyxHeaders(B.key)), { ok: false, code: 'signature_invalid' });
  t.match(verify('telnyx', [A.pub], telnyxHeaders(), Buffer.from(BODY.toString().replace('hi', 'ho'))), { ok: false, code: 'signature_invalid' });
  t.match(verify('telnyx', [A.pub], telnyxHeaders(A.key, NOW_S - 301)), { ok: false, code: 'timestamp_out_of_tolerance' });
  t.match(verify('telnyx', [A.pub], { ...telnyxHeaders(), 'telnyx-timestamp': String(NOW_S + 1) }), { ok: false, code: 'signature_invalid' }, 'a changed timestamp');
  t.match(verify('telnyx', [A.pub], { 'telnyx-timestamp': String(NOW_S) }), { ok: false, code: 'signature_missing' });
  t.match(verify('telnyx', [A.pub], { ...telnyxHeaders(), 'telnyx-signature-ed25519': 'abc' }), { ok: false, code: 'malformed' });
  t.throws(() => getScheme('telnyx')!.key('deadbeef', opts), /base64 of 32 bytes/);
  const signed = getScheme('telnyx')!.sign({ secret: A.key.export({ format: 'pem', type: 'pkcs8' }).toString(), body: BODY, url: '', method: 'POST', timestamp: NOW_S, id: '' });
  t.same(signed, telnyxHeaders(), 'hookgate sign makes the same signature (Ed25519 is deterministic)');
});

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const W = rsa();
const W2 = rsa();
const pem = (k: typeof W) => k.publicKey.export({ format: 'pem', type: 'spki' }).toString();

t.test('wise: SHA256withRSA over the body; no id, no timestamp (check warns)', async (t) => {
  const sig = (k = W, body = BODY) => ({ 'x-signature-sha256': cSign('sha256', body, k.privateKey).toString('base64'), 'x-delivery-id': 'unsigned-id' });
  t.same(verify('wise', [pem(W)], sig()), { ok: true, secretIndex: 0 });
  t.match(verify('wise', [pem(W2), pem(W)], sig()), { ok: true, secretIndex: 1 }, 'sandbox and production keys side by side');
  t.match(verify('wise', [pem(W)], sig(W2)), { ok: false, code: 'signature_invalid' });
  t.match(verify('wise', [pem(W)], sig(), Buffer.from(BODY.toString().replace('hi', 'ho'))), { ok: false, code: 'signature_invalid' });
  t.match(verify('wise', [pem(W)], {}), { ok: false, code: 'signature_missing' });
  t.match(getScheme('wise')!.info, { timestamp: null, id: 'digest', deliveryIdHeader: 'X-Delivery-Id' }, 'no signed time or id: check warns (test/cli/check.test.ts)');
  const h = getScheme('wise')!.sign({ secret: W.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), body: BODY, url: '', method: 'POST', timestamp: NOW_S, id: 'd1' });
  t.match(verify('wise', [pem(W)], { 'x-signature-sha256': h['X-Signature-SHA256']! }), { ok: true });
});
