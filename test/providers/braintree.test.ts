// Braintree: a form of bt_signature (publicKey|HMAC-SHA1 with key SHA-1(private key)) and bt_payload.
// The deliveries are signed here with node:crypto as braintree_node's digest.js does (no package installed).
import t from 'tap';
import { createHash, createHmac } from 'node:crypto';
import { getScheme } from '../../src/providers/index.js';
import type { Verdict } from '../../src/providers/types.js';

const scheme = getScheme('braintree')!;
const OPTS = { toleranceMs: 300_000, publicUrl: null };
const PUB = 'integration_public_key';
const PRIV = 'integration_private_key';
const XML = '<notification><kind>check</kind><timestamp type="datetime">2023-11-14T22:13:20Z</timestamp><subject><check type="boolean">true</check></subject></notification>';
const PAYLOAD = Buffer.from(XML).toString('base64').replace(/(.{60})/g, '$1\n') + '\n';

const hex = (priv: string, data: string) => createHmac('sha1', createHash('sha1').update(priv).digest()).update(data).digest('hex');
const form = (sig: string, payload = PAYLOAD) => Buffer.from(new URLSearchParams({ bt_signature: sig, bt_payload: payload }).toString());
const verify = (b: Buffer, secrets = [`${PUB}|${PRIV}`]): Verdict => scheme.verify({ method: 'POST', url: '/b', headers: {}, body: b }, secrets.map((s) => scheme.key(s, OPTS)), OPTS, Date.now());
const code = (v: Verdict) => (v.ok ? 'ok' : v.code);

t.test('braintree: a notification signed as the SDK signs it verifies, keyed on the digest of bt_payload', async (t) => {
  const v = verify(form(`${PUB}|${hex(PRIV, PAYLOAD)}`));
  t.match(v, { ok: true, secretIndex: 0 });
  t.equal(v.ok && v.digest, createHash('sha256').update(PAYLOAD).digest('hex'));
  t.equal(code(verify(form(`${PUB}|${hex(PRIV, PAYLOAD + '\n')}`))), 'ok', 'the payload with a trailing newline, as the SDK also accepts');
  t.equal(code(verify(form(`other_key|${hex('x', PAYLOAD)}&${PUB}|${hex(PRIV, PAYLOAD)}`))), 'ok', 'the pair of our public key among others');
  t.equal(code(verify(form(`${PUB}|${hex(PRIV, PAYLOAD)}`), [PRIV])), 'ok', 'the private key alone: every pair is tried');
});

t.test('braintree: forgeries and garbage are refused', async (t) => {
  const good = `${PUB}|${hex(PRIV, PAYLOAD)}`;
  const changed = Buffer.from(XML.replace('check', 'chock')).toString('base64');
  t.equal(code(verify(form(good, changed))), 'signature_invalid', 'a changed payload');
  t.equal(code(verify(form(`${PUB}|${hex('wrong', PAYLOAD)}`))), 'signature_invalid', 'a wrong private key');
  t.equal(code(verify(form(`someone_else|${hex(PRIV, PAYLOAD)}`))), 'signature_invalid', 'our signature under another public key (the secret names ours)');
  t.equal(code(verify(form(good), ['other_public|other_private', `${PUB}|${PRIV}`])), 'ok', 'rotation');
  t.equal(code(verify(Buffer.from('bt_payload=abc'))), 'signature_missing');
  t.equal(code(verify(Buffer.from(`${form(good).toString()}&bt_signature=x`))), 'malformed', 'bt_signature twice');
  t.equal(code(verify(form('garbage'))), 'malformed');
  t.equal(code(verify(form(good, '<xml/>'))), 'malformed', 'a payload that is not base64');
});

t.test('braintree: hookgate sign makes a form that verifies (and that the test signer agrees with)', async (t) => {
  const b = scheme.signBody!({ secret: `${PUB}|${PRIV}`, body: Buffer.from(XML), url: '', method: 'POST', timestamp: 1_700_000_000, id: 'x' });
  t.equal(code(verify(b)), 'ok');
  const f = new URLSearchParams(b.toString());
  t.equal(f.get('bt_signature'), `${PUB}|${hex(PRIV, f.get('bt_payload')!)}`);
  t.equal(Buffer.from(f.get('bt_payload')!, 'base64').toString(), XML);
});
