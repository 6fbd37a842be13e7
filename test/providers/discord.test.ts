import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { verifyKey } from 'discord-interactions';
import { discord } from '../../src/providers/discord.js';
import type { SchemeOptions, SignedRequest } from '../../src/providers/types.js';

const opts: SchemeOptions = { toleranceMs: 300_000, publicUrl: null };
function pair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  // the application public key as the Developer Portal shows it: the 32 raw bytes, hex
  const hex = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  return { hex, pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}
const A = pair();
const B = pair();
const TS = 1_700_000_000;
const NOW = TS * 1000;
const INTERACTION = Buffer.from('{"id":"1183592052791812127","type":2,"application_id":"1","data":{"name":"ping"}}');

function signed(body: Buffer, pem = A.pem, ts = TS): SignedRequest {
  const h = discord.sign({ secret: pem, body, url: '', method: 'POST', timestamp: ts, id: '' });
  return { method: 'POST', url: '/webhooks/discord', headers: { 'x-signature-ed25519': h['X-Signature-Ed25519'], 'x-signature-timestamp': h['X-Signature-Timestamp'] }, body };
}
const verify = (r: SignedRequest, hexKeys: string[], now = NOW) => discord.verify(r, hexKeys.map((k) => discord.key(k, opts)), opts, now);

t.test('a signed interaction verifies, with its id and timestamp; discord-interactions agrees', async (t) => {
  const r = signed(INTERACTION);
  t.ok(await verifyKey(INTERACTION, r.headers['x-signature-ed25519'] as string, r.headers['x-signature-timestamp'] as string, A.hex), 'verifyKey accepts the test signature');
  t.same(verify(r, [A.hex]), { ok: true, secretIndex: 0, timestamp: NOW, id: '1183592052791812127' });
});

t.test('PING is verified and forwarded like any delivery; webhook events key on the digest', async (t) => {
  t.match(verify(signed(Buffer.from('{"id":"99","type":1}')), [A.hex]), { ok: true, id: '99' });
  const event = Buffer.from('{"version":1,"application_id":"1","type":0}');
  const v = verify(signed(event), [A.hex]);
  t.match(v, { ok: true, secretIndex: 0 });
  t.notOk('id' in v);
});

t.test('a changed byte, a wrong key, a changed timestamp fail; rotation reports the index', async (t) => {
  const r = signed(INTERACTION);
  const changed = Buffer.from(INTERACTION);
  changed[10] = changed[10]! ^ 1;
  t.match(verify({ ...r, body: changed }, [A.hex]), { ok: false, code: 'signature_invalid' });
  t.match(verify(r, [B.hex]), { ok: false, code: 'signature_invalid' });
  t.match(verify({ ...r, headers: { ...r.headers, 'x-signature-timestamp': String(TS + 1) } }, [A.hex], NOW), { ok: false, code: 'signature_invalid' });
  t.match(verify(r, [B.hex, A.hex]), { ok: true, secretIndex: 1 });
});

t.test('stale and future timestamps are refused', async (t) => {
  const r = signed(INTERACTION);
  t.match(verify(r, [A.hex], NOW + 300_000), { ok: true }, 'the window edge is inside');
  t.match(verify(r, [A.hex], NOW + 301_000), { ok: false, code: 'timestamp_out_of_tolerance' });
  t.match(verify(r, [A.hex], NOW - 301_000), { ok: false, code: 'timestamp_out_of_tolerance' });
});

t.test('missing, duplicated and unparseable headers', async (t) => {
  const r = signed(INTERACTION);
  t.match(verify({ ...r, headers: { 'x-signature-timestamp': String(TS) } }, [A.hex]), { ok: false, code: 'signature_missing' });
  t.match(verify({ ...r, headers: { 'x-signature-ed25519': r.headers['x-signature-ed25519'] } }, [A.hex]), { ok: false, code: 'signature_missing' });
  t.match(verify({ ...r, headers: { ...r.headers, 'x-signature-ed25519': 'zz' } }, [A.hex]), { ok: false, code: 'malformed' });
  t.match(verify({ ...r, headers: { ...r.headers, 'x-signature-timestamp': '17e8' } }, [A.hex]), { ok: false, code: 'malformed' });
  const sig = r.headers['x-signature-ed25519'] as string;
  t.match(verify({ ...r, headers: { ...r.headers, 'x-signature-ed25519': [sig, sig] } }, [A.hex]), { ok: false, code: 'malformed' });
  t.match(verify({ ...r, headers: { ...r.headers, 'x-signature-ed25519': `${sig}, ${sig}` } }, [A.hex]), { ok: false, code: 'malformed' }, 'joined by Node');
  t.match(verify({ ...r, headers: { ...r.headers, 'x-signature-timestamp': `${TS}, ${TS}` } }, [A.hex]), { ok: false, code: 'malformed' }, 'timestamp joined by Node');
});

t.test('key(): the application public key in hex; anything else is a clear error', async (t) => {
  t.throws(() => discord.key('abc', opts), /64 hex characters/);
  t.throws(() => discord.key('g'.repeat(64), opts), /public key/);
  t.throws(() => discord.key(A.hex + '00', opts), /32 bytes/);
  t.doesNotThrow(() => discord.key(` ${A.hex.toUpperCase()}\n`, opts));
  t.throws(() => discord.sign({ secret: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), body: INTERACTION, url: '', method: 'POST', timestamp: TS, id: '' }), /Ed25519/);
  t.equal(discord.asymmetric, true);
});
