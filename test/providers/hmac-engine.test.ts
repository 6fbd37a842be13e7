// The declarative engine's rules, on small presets of its own: what a header grammar accepts, which
// ambiguities are malformed, that the signature is judged before the timestamp, and that a preset
// whose data would sign less than it claims is refused when it is built.
import t from 'tap';
import { createHash, createHmac } from 'node:crypto';
import { hmacScheme, type HmacPreset } from '../../src/providers/hmac-engine.js';
import type { Verdict } from '../../src/providers/types.js';

const OPTS = { toleranceMs: 300_000, publicUrl: 'https://hooks.example.com/hook' };
const T = 1_700_000_000;
const BODY = Buffer.from('{"id":"evt_1","n":1}');
const vector = { secret: 's', body: '', headers: {}, source: 'test' };
const base = (over: Partial<HmacPreset>): HmacPreset => ({
  name: 'test', docs: 'https://example.com', algorithm: 'sha256', signed: '{body}',
  signature: { headers: ['x-sig'], format: 'single', encoding: 'hex' }, vector, ...over,
});
const mac = (key: string | Buffer, ...parts: (string | Buffer)[]) => parts.reduce((h, p) => h.update(p), createHmac('sha256', key)).digest();
function run(p: HmacPreset, headers: Record<string, string | string[]>, body = BODY, now = T * 1000, secrets = ['secret']): Verdict {
  const s = hmacScheme(p);
  return s.verify({ method: 'POST', url: '/hook', headers, body }, secrets.map((x) => s.key(x, OPTS)), OPTS, now);
}
const code = (v: Verdict) => (v.ok ? 'ok' : v.code);

t.test('single: prefix required (unless optional), every encoding strict', async (t) => {
  const hex = mac('secret', BODY).toString('hex');
  const p = base({ signature: { headers: ['x-sig'], format: 'single', encoding: 'hex', prefix: 'sha256=' } });
  t.equal(code(run(p, { 'x-sig': `sha256=${hex}` })), 'ok');
  t.equal(code(run(p, { 'x-sig': `sha256=${hex.toUpperCase()}` })), 'ok', 'upper-case hex (Authorize.net style) decodes to the same bytes');
  t.equal(code(run(p, { 'x-sig': hex })), 'malformed', 'the prefix is required');
  t.equal(code(run(base({ signature: { headers: ['x-sig'], format: 'single', encoding: 'hex', prefix: 'sha256=', optionalPrefix: true } }), { 'x-sig': hex })), 'ok', 'unless optional');
  t.equal(code(run(p, { 'x-sig': `sha256=${hex}zz` })), 'malformed');
  const url = base({ signature: { headers: ['x-sig'], format: 'single', encoding: 'base64url' } });
  t.equal(code(run(url, { 'x-sig': mac('secret', BODY).toString('base64url') })), 'ok', 'base64url without padding');
  t.equal(code(run(p, { 'x-sig': [`sha256=${hex}`, `sha256=${hex}`] })), 'malformed', 'sent twice where the provider never does');
});

t.test('repeated: every value of a header the provider repeats during rotation is tried (Mollie)', async (t) => {
  const p = base({ signature: { headers: ['x-sig'], format: 'single', encoding: 'hex', repeated: true } });
  const good = mac('secret', BODY).toString('hex');
  const other = mac('old', BODY).toString('hex');
  t.equal(code(run(p, { 'x-sig': [other, good] })), 'ok');
  t.equal(code(run(p, { 'x-sig': `${other}, ${good}` })), 'ok', 'as Node delivers it: one value joined with ", "');
  t.equal(code(run(p, { 'x-sig': `${other}, ${other}` })), 'signature_invalid');
  t.equal(code(run(p, { 'x-sig': [other, other] })), 'signature_invalid');
  t.equal(code(run(p, { 'x-sig': [good, 'garbage!'] })), 'malformed', 'a value that does not parse is not skipped');
});

t.test('all: twin or numbered headers, any may carry the matching signature (Box, DocuSign)', async (t) => {
  const p = base({ signature: { headers: ['x-sig-1', 'x-sig-2', 'x-sig-3'], all: true, format: 'single', encoding: 'base64' } });
  const good = mac('secret', BODY).toString('base64');
  t.equal(code(run(p, { 'x-sig-3': good })), 'ok', 'only the third');
  t.equal(code(run(p, { 'x-sig-1': mac('x', BODY).toString('base64'), 'x-sig-2': good })), 'ok');
  t.equal(code(run(p, {})), 'signature_missing');
});

t.test('pairs: one timestamp, signatures under their key only (downgrade protection), ms timestamps', async (t) => {
  const p = base({ signed: '{timestamp}.{body}', signature: { headers: ['x-sig'], format: 'pairs', separator: ',', tsKey: 't', sigKey: 'v1', encoding: 'hex' }, timestamp: { unit: 'ms' } });
  const ms = String(T * 1000);
  const sig = mac('secret', ms, '.', BODY).toString('hex');
  t.equal(code(run(p, { 'x-sig': `t=${ms}, v1=${sig}` })), 'ok', 'a space after the comma (WorkOS)');
  t.equal(code(run(p, { 'x-sig': `t=${ms},v0=${sig}` })), 'malformed', 'only an unknown version: no signature to check');
  t.equal(code(run(p, { 'x-sig': `t=${ms},v1=${sig}, t=${ms},v1=${sig}` })), 'malformed', 'two timestamps (the header joined by Node) are ambiguous');
  t.equal(code(run(p, { 'x-sig': `t=${T},v1=${mac('secret', String(T), '.', BODY).toString('hex')}` })), 'timestamp_out_of_tolerance', 'seconds where ms are documented: signed, but 1970');
});

t.test('positional and auto units: <ts>,<sig>[,<sig>] with seconds or milliseconds (Recurly)', async (t) => {
  const p = base({ signed: '{timestamp}.{body}', signature: { headers: ['x-sig'], format: 'positional', separator: ',', encoding: 'hex' }, timestamp: { unit: 'auto' } });
  for (const ts of [String(T), String(T * 1000)]) {
    const sig = mac('secret', ts, '.', BODY).toString('hex');
    t.equal(code(run(p, { 'x-sig': `${ts},${mac('old', ts, '.', BODY).toString('hex')},${sig}` })), 'ok', `${ts.length} digits`);
  }
  t.equal(code(run(p, { 'x-sig': `${T}000000,${mac('secret', `${T}000000`, '.', BODY).toString('hex')}` })), 'malformed', '16 digits are neither');
});

t.test('the signature is judged before the timestamp; a timestamp header sent twice is malformed', async (t) => {
  const p = base({ signed: 'v0:{timestamp}:{body}', timestamp: { header: 'x-ts', unit: 's' } });
  const old = String(T - 3600);
  t.equal(code(run(p, { 'x-sig': mac('forger', 'v0:', old, ':', BODY).toString('hex'), 'x-ts': old })), 'signature_invalid', 'a forger learns nothing about the window');
  t.equal(code(run(p, { 'x-sig': mac('secret', 'v0:', old, ':', BODY).toString('hex'), 'x-ts': old })), 'timestamp_out_of_tolerance', 'a capture is told it is stale');
  t.equal(code(run(p, { 'x-sig': mac('secret', 'v0:', String(T), ':', BODY).toString('hex'), 'x-ts': [String(T), String(T)] })), 'malformed');
  t.equal(code(run(p, { 'x-sig': mac('secret', 'v0:', String(T), ':', BODY).toString('hex') })), 'malformed', 'no timestamp header');
});

t.test('ids: a signed header or a field of the signed body; keys: hex, base64 and whsec_', async (t) => {
  const p = base({ signed: '{header:x-id}.{timestamp}.{body}', timestamp: { header: 'x-ts', unit: 's' }, id: 'header:x-id', key: 'whsec', signature: { headers: ['x-sig'], format: 'list', separator: ' ', prefix: 'v1,', encoding: 'base64' } });
  const key = Buffer.from('0123456789abcdef0123456789abcdef');
  const secret = 'whsec_' + key.toString('base64');
  const sig = mac(key, 'msg_1', '.', String(T), '.', BODY).toString('base64');
  const v = run(p, { 'x-sig': `v1,${sig}`, 'x-ts': String(T), 'x-id': 'msg_1' }, BODY, T * 1000, [secret]);
  t.match(v, { ok: true, id: 'msg_1', timestamp: T * 1000 });
  t.equal(code(run(p, { 'x-sig': `v1,${sig}`, 'x-ts': String(T), 'x-id': 'msg_2' }, BODY, T * 1000, [secret])), 'signature_invalid', 'the id is signed');
  const j = base({ id: 'json:id', key: 'hex' });
  t.match(run(j, { 'x-sig': mac(Buffer.from('a1b2', 'hex'), BODY).toString('hex') }, BODY, T * 1000, ['a1b2']), { ok: true, id: 'evt_1' });
  t.throws(() => hmacScheme(j).key('zz', OPTS), /test: the secret is the hex key/);
  t.throws(() => hmacScheme(base({ key: 'base64' })).key('!!', OPTS), /not base64/);
});

t.test('keyed hashes place the secret where the provider does; URL-signed presets key on the URL too', async (t) => {
  const h = base({ mac: 'hash', signed: '{secret}{body}' });
  t.equal(code(run(h, { 'x-sig': createHash('sha256').update('secret').update(BODY).digest('hex') })), 'ok');
  t.equal(code(run(h, { 'x-sig': createHash('sha256').update(BODY).update('secret').digest('hex') })), 'signature_invalid', 'the secret after the body is another construction');
  const u = base({ signed: '{url}{form:sorted}', signature: { headers: ['x-sig'], format: 'single', encoding: 'base64' } });
  const form = Buffer.from('b=2&a=1');
  const sig = mac('secret', 'https://hooks.example.com/hook', 'a1b2').toString('base64');
  const v = run(u, { 'x-sig': sig }, form);
  t.equal(code(v), 'ok');
  t.equal(v.ok && v.digest, createHash('sha256').update('https://hooks.example.com/hook').update('a1b2').digest('hex'), 'the digest of what was signed (URL and fields)');
  t.equal(code(run(u, { 'x-sig': sig }, Buffer.from('a=1&b=2'))), 'ok', 'fields are signed sorted: their order on the wire does not matter');
  t.equal(code(run(u, { 'x-sig': sig }, Buffer.from('a=1&b=3'))), 'signature_invalid');
});

t.test('attack: {form:sorted} (Mandrill) refuses a form whose fields do not decode to UTF-8, so %80 cannot be swapped for %81', async (t) => {
  const u = base({ signed: '{url}{form:sorted}', signature: { headers: ['x-sig'], format: 'single', encoding: 'base64' } });
  // what a signer over decoded fields (Mandrill's own) signs for `a=x%80y`: U+FFFD in place of the byte
  const sig = mac('secret', 'https://hooks.example.com/hook', 'ax\uFFFDy').toString('base64');
  for (const body of ['a=x%80y', 'a=x%81y', 'a=x%C3y']) t.equal(code(run(u, { 'x-sig': sig }, Buffer.from(body))), 'malformed', body);
  t.equal(code(run(u, { 'x-sig': sig }, Buffer.concat([Buffer.from('a=x'), Buffer.from([0x80]), Buffer.from('y')]))), 'malformed', 'a raw byte that is not UTF-8');
  t.equal(code(run(u, { 'x-sig': sig }, Buffer.from('a=x%EF%BF%BDy'))), 'ok', 'U+FFFD itself, sent as UTF-8');
  // escapes that are not escapes stay text, as the form parser reads them
  const pct = mac('secret', 'https://hooks.example.com/hook', 'a100%', 'b%zz%e').toString('base64');
  t.equal(code(run(u, { 'x-sig': pct }, Buffer.from('a=100%&b=%zz%e'))), 'ok');
  t.equal(code(run(u, { 'x-sig': mac('secret', 'https://hooks.example.com/hook', 'a\u00e9').toString('base64') }, Buffer.from('a=%c3%A9'))), 'ok', 'a two-byte escape, either case');
});

t.test('a preset whose data would sign less than it says is refused when built', async (t) => {
  t.throws(() => hmacScheme(base({ timestamp: { header: 'x-ts', unit: 's' } })), /a timestamp that is not in what is signed would not be signed/);
  t.throws(() => hmacScheme(base({ signed: '{timestamp}.{body}' })), /\{timestamp\} needs a timestamp spec/);
  t.throws(() => hmacScheme(base({ id: 'header:x-delivery' })), /the id header x-delivery is not signed/);
  t.throws(() => hmacScheme(base({ signed: '{secret}{body}' })), /\{secret\} belongs in keyed hashes/);
  t.throws(() => hmacScheme(base({ signed: '{bodyy}' })), /unknown placeholder/);
  t.throws(() => hmacScheme(base({ signed: '{timestamp}.{body}', timestamp: { unit: 's' } })), /needs a header, or a pairs \/ positional signature/);
});
