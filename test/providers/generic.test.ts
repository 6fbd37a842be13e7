import t from 'tap';
import { createHmac } from 'node:crypto';
import type { GenericOptions } from '../../src/providers/types.js';
import { getScheme } from '../../src/providers/index.js';
import { BODY, NOW, SECRET, T, runCommonCases, verify } from './harness.js';

// there is no provider and so no official signer: node:crypto, computed independently of the scheme
const configs: { label: string; g: GenericOptions; header: string }[] = [
  { label: 'generic (sha256, hex, "sha256=" prefix)', header: 'x-signature', g: { header: 'X-Signature', algorithm: 'sha256', encoding: 'hex', prefix: 'sha256=', timestampHeader: '', separator: '.' } },
  { label: 'generic (sha1, base64, no prefix)', header: 'x-sig', g: { header: 'X-Sig', algorithm: 'sha1', encoding: 'base64', prefix: '', timestampHeader: '', separator: '.' } },
  { label: 'generic (sha512, hex, timestamp header and ":" separator)', header: 'x-hmac', g: { header: 'X-Hmac', algorithm: 'sha512', encoding: 'hex', prefix: '', timestampHeader: 'X-Timestamp', separator: ':' } },
];

function manual(g: GenericOptions, secret: string, ts: number): Record<string, string> {
  const h = createHmac(g.algorithm, secret);
  if (g.timestampHeader) h.update(`${ts}${g.separator}`);
  const out: Record<string, string> = { [g.header]: g.prefix + h.update(BODY).digest(g.encoding) };
  if (g.timestampHeader) out[g.timestampHeader] = String(ts);
  return out;
}

for (const { label, g, header } of configs) {
  runCommonCases(t, {
    name: 'generic',
    label,
    other: 'other_secret',
    signer: 'node:crypto',
    sign: (secret, ts) => ({ headers: manual(g, secret, ts), body: BODY }),
    header,
    timestamped: g.timestampHeader !== '',
    id: undefined, // the route's idempotencyKey: json:PATH names one when the body carries it
    opts: { generic: g },
  });
}

t.test('generic: the timestamp is signed: another timestamp with the same signature is refused', async (t) => {
  const g = configs[2]!.g;
  const headers = { ...manual(g, SECRET, T), 'X-Timestamp': String(T + 1) };
  const v = verify('generic', [SECRET], { headers, body: BODY }, NOW, { generic: g });
  t.equal(!v.ok && v.code, 'signature_invalid');
});

t.test('generic: a missing timestamp header is malformed when one is configured', async (t) => {
  const g = configs[2]!.g;
  const { 'X-Timestamp': _, ...headers } = manual(g, SECRET, T);
  const v = verify('generic', [SECRET], { headers, body: BODY }, NOW, { generic: g });
  t.equal(!v.ok && v.code, 'malformed');
});

t.test('generic: a signature without the configured prefix is malformed', async (t) => {
  const g = configs[0]!.g;
  const v = verify('generic', [SECRET], { headers: { 'x-signature': manual(g, SECRET, T)['X-Signature']!.slice('sha256='.length) }, body: BODY }, NOW, { generic: g });
  t.equal(!v.ok && v.code, 'malformed');
});

t.test('generic: key() without a generic block names what is missing', async (t) => {
  t.throws(() => getScheme('generic')!.key(SECRET, { toleranceMs: 1, publicUrl: null }), /generic: block/);
});
