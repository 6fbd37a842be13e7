// Every provider of the registry, table-driven from its own data: its listing is complete, its vector
// (published where the provider publishes one, else built from the documented construction outside
// hookgate) verifies with the id it documents, a changed byte and a wrong secret do not, and what
// `hookgate sign` makes verifies. Where an official package is installed, both directions.
import t from 'tap';
import { Webhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { PROVIDER_NAMES, getScheme } from '../../src/providers/index.js';
import { BODY } from '../../src/providers/presets/body.js';
import { KEYED_HASH } from '../../src/providers/presets/keyed-hash.js';
import { TIMESTAMPED } from '../../src/providers/presets/timestamped.js';
import { TOKEN } from '../../src/providers/presets/token.js';
import { URL_SIGNED } from '../../src/providers/presets/url-signed.js';
import type { Vector } from '../../src/providers/hmac-engine.js';
import type { ProviderInfo, SchemeOptions, Verdict } from '../../src/providers/types.js';
import { flipByte } from './harness.js';

const OPTS: SchemeOptions = { toleranceMs: 300_000, publicUrl: 'https://hooks.example.com/hook' };
const T = 1_700_000_000;

function verify(name: string, secrets: string[], headers: Record<string, string | string[]>, body: Buffer, nowMs: number): Verdict {
  const s = getScheme(name)!;
  const keys = secrets.map((x) => s.key(x, OPTS));
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return s.verify({ method: 'POST', url: '/hook', headers: lower, body }, keys, OPTS, nowMs);
}
const code = (v: Verdict) => (v.ok ? 'ok' : v.code);

/** Another valid secret of the same form (the "wrong" one). */
export function otherSecret(secret: string, form: ProviderInfo['secret']): string {
  if (form === 'hex') return secret.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  if (form === 'base64') return Buffer.from('another-secret-of-this-form-0123').toString('base64');
  if (form === 'whsec') return 'whsec_' + Buffer.from('another-secret-of-this-form-0123').toString('base64');
  return `${secret}_other`;
}

t.test('every provider is listed with a family, its documentation, headers and an id source; names follow the contract', async (t) => {
  t.ok(PROVIDER_NAMES.length >= 80, `${PROVIDER_NAMES.length} providers`);
  for (const name of PROVIDER_NAMES) {
    const info = getScheme(name)!.info;
    t.ok(info, `${name} has info`);
    if (!info) continue;
    t.match(name, /^[a-z0-9]+(-[a-z0-9]+)*$/, `${name}: lower-case words joined by -`);
    t.match(info.docs, name === 'generic' ? /\.md$/ : /^https:\/\//, `${name}: documentation URL`);
    t.ok(info.family && info.headers.length > 0 && info.id, `${name}: family, headers, id`);
    t.match(info.id, /^(digest|json:|header:|signing token)/, `${name}: id source`);
    for (const a of info.aliases ?? []) t.notOk(PROVIDER_NAMES.includes(a), `${name}: alias ${a} is not another provider's name`);
  }
});

const DATA: { name: string; vector: Vector }[] = [...BODY, ...KEYED_HASH, ...TIMESTAMPED, ...TOKEN, ...URL_SIGNED];

t.test('every data provider has a vector', async (t) => {
  for (const p of DATA) t.ok(p.vector.source, `${p.name}: ${p.vector.source}`);
});

for (const p of DATA) {
  const s = getScheme(p.name)!;
  const info = s.info!;
  const v = p.vector;
  const body = Buffer.from(v.body);
  const now = v.now ?? T * 1000;
  const other = otherSecret(v.secret, info.secret);
  t.test(`${p.name}: the vector verifies, a changed byte and a wrong secret do not, sign() verifies`, async (t) => {
    const ok = verify(p.name, [v.secret], v.headers, body, now);
    t.equal(code(ok), 'ok', `vector (${v.source}): ${JSON.stringify(ok)}`);
    if (ok.ok) t.equal(ok.id, v.id, v.id ? `the id ${v.id}` : 'no id: the key is the digest');
    t.equal(code(verify(p.name, [v.secret], v.headers, flipByte(body), now)), s.signsBody ? 'signature_invalid' : 'ok', s.signsBody ? 'a changed byte is refused' : 'the body is not signed');
    t.equal(code(verify(p.name, [other], v.headers, body, now)), 'signature_invalid', 'a wrong secret is refused');
    t.equal(code(verify(p.name, [other, v.secret], v.headers, body, now)), 'ok', 'the second secret of a rotation');
    if (info.timestamp) {
      t.equal(code(verify(p.name, [v.secret], v.headers, body, now + 301_000)), 'timestamp_out_of_tolerance', 'stale');
      t.equal(code(verify(p.name, [v.secret], v.headers, body, now - 301_000)), 'timestamp_out_of_tolerance', 'from the future');
    }
    const signed = s.sign({ secret: v.secret, body, url: OPTS.publicUrl!, method: 'POST', timestamp: T, id: 'msg_sign_1' });
    const back = verify(p.name, [v.secret], signed, body, T * 1000);
    t.equal(code(back), 'ok', `sign() → verify: ${JSON.stringify(signed)}`);
    for (const h of Object.keys(v.headers)) if (!info.headers.map((x) => x.toLowerCase()).includes(h) || h === info.headers[0]!.toLowerCase()) t.ok(h in signed, `sign() sends ${h}`);
    t.equal(code(verify(p.name, [v.secret], {}, body, now)), 'signature_missing', 'no signature header');
  });
}

// Standard Webhooks spec vector (providers.md §3.3), through each provider that sends it
const SW = { key: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', ts: '1614265330', body: '{"test": 2432232314}', sig: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' };
for (const name of PROVIDER_NAMES.filter((n) => getScheme(n)!.info?.family === 'standard-webhooks' && getScheme(n)!.info?.secret === 'whsec')) {
  t.test(`${name}: the Standard Webhooks spec vector, and both directions with standardwebhooks and svix`, async (t) => {
    const now = Number(SW.ts) * 1000;
    for (const prefix of ['webhook', 'svix']) {
      const v = verify(name, [SW.key], { [`${prefix}-id`]: SW.id, [`${prefix}-timestamp`]: SW.ts, [`${prefix}-signature`]: SW.sig }, Buffer.from(SW.body), now);
      t.equal(v.ok && v.id, SW.id, `${prefix}-* headers`);
    }
    const at = new Date(T * 1000);
    const theirs = new Webhook(SW.key).sign('msg_1', at, SW.body);
    t.equal(code(verify(name, [SW.key], { 'webhook-id': 'msg_1', 'webhook-timestamp': String(T), 'webhook-signature': theirs }, Buffer.from(SW.body), T * 1000)), 'ok', 'hookgate accepts standardwebhooks');
    const ours = getScheme(name)!.sign({ secret: SW.key, body: Buffer.from(SW.body), url: '', method: 'POST', timestamp: Math.floor(Date.now() / 1000), id: 'msg_2' });
    // providers that deliver through Svix's brand are signed with svix-* names, the others with webhook-*
    const brand = getScheme(name)!.info!.notes?.some((n) => n.includes('svix-* headers')) ? 'svix' : 'webhook';
    t.same(Object.keys(ours).sort(), [`${brand}-id`, `${brand}-signature`, `${brand}-timestamp`], `hookgate sign writes the ${brand}-* names`);
    const unbranded = Object.fromEntries(Object.entries(ours).map(([k, v]) => [k.replace(/^svix-/, 'webhook-'), v]));
    t.ok(new Webhook(SW.key).verify(SW.body, unbranded), 'standardwebhooks accepts hookgate sign');
    t.ok(new SvixWebhook(SW.key).verify(SW.body, ours), 'svix accepts hookgate sign');
  });
}

t.test('polar: both directions with standardwebhooks on the base64 of its raw secret (what @polar-sh/sdk validateEvent does)', async (t) => {
  const secret = 'polar_whs_0123456789abcdefghijklmnop';
  const wh = new Webhook(Buffer.from(secret, 'utf8').toString('base64'));
  const body = '{"type":"order.paid","data":{"id":"ord_2"}}';
  const theirs = wh.sign('msg_p1', new Date(T * 1000), body);
  t.equal(code(verify('polar', [secret], { 'webhook-id': 'msg_p1', 'webhook-timestamp': String(T), 'webhook-signature': theirs }, Buffer.from(body), T * 1000)), 'ok', 'hookgate accepts standardwebhooks');
  const ours = getScheme('polar')!.sign({ secret, body: Buffer.from(body), url: '', method: 'POST', timestamp: Math.floor(Date.now() / 1000), id: 'msg_p2' });
  t.ok(wh.verify(body, ours), 'standardwebhooks accepts hookgate sign');
});
