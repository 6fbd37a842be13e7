// The idempotency key's layout (src/config/keys.ts) is injective: two deliveries share a key only when
// namespace, tenant and id (or digest) are all equal; and it stays printable ASCII for the header.
import t from 'tap';
import fc from 'fast-check';
import type { FastifyRequest } from 'fastify';
import { keyPrefix, NAMESPACE } from '../../src/config/keys.js';
import type { Route } from '../../src/config/load.js';
import { deliveryKey } from '../../src/stages/idempotency.js';

const EMPTY = Buffer.alloc(0);
const request = { headers: {} } as unknown as FastifyRequest;
const key = (namespace: string, tenant: string, signed: { id?: string; digest?: string }) => {
  const route = { keyPrefix: keyPrefix(namespace), idempotencyKey: { kind: 'default' }, signedHeaders: [] } as unknown as Route;
  const k = deliveryKey(route, tenant, signed, request, EMPTY);
  if (!k.ok) throw new Error(k.message);
  return k.key;
};

const tenant = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,12}$/);
// paths as configured (anything after the /, unicode and separators included) and explicit names
const namespace = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => `/${s}`), fc.constantFrom('/a|b', '/a%7Cb', '/a b', '/a%20b', '/a/:t'), fc.stringMatching(NAMESPACE));
const signed = fc.oneof(
  fc.record({ id: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('sha256:ab', 'id:x', 'a|b', 'x'.repeat(201))) }),
  fc.record({ digest: fc.stringMatching(/^[0-9a-f]{4}$/) }),
);

t.test('different (namespace, tenant, id or digest) never give one key', async (t) => {
  fc.assert(
    fc.property(namespace, tenant, signed, namespace, tenant, signed, (n1, t1, s1, n2, t2, s2) => {
      const same = n1 === n2 && t1 === t2 && JSON.stringify(s1) === JSON.stringify(s2);
      return (key(n1, t1, s1) === key(n2, t2, s2)) === same;
    }),
    { numRuns: 3000 },
  );
});

t.test('near misses stay apart: an id spelling a digest, a namespace spelling its encoding, a tenant with the separator', async (t) => {
  t.not(key('/a', 'acme', { id: 'sha256:00' }), key('/a', 'acme', { digest: '00' }));
  t.not(key('/a|b', 'acme', { id: 'x' }), key('/a', 'b|acme', { id: 'x' }));
  t.not(key('/a|b', 'acme', { id: 'x' }), key('/a%7Cb', 'acme', { id: 'x' }));
  t.not(key('shop', 'acme', { id: 'x' }), key('/shop', 'acme', { id: 'x' }));
  t.equal(key('/webhooks/:tenant/github', 'acme', { id: 'evt_1' }), '/webhooks/:tenant/github|acme|id:evt_1');
  t.equal(key('/a b', 'acme', { digest: 'ff' }), '/a%20b|acme|sha256:ff');
  t.match(key('/a', 'acme', { id: 'with space' }), /^\/a\|acme\|id-sha256:[0-9a-f]{64}$/);
});

t.test('keys are printable ASCII without spaces', async (t) => {
  fc.assert(fc.property(namespace, tenant, signed, (n, tn, s) => /^[\x21-\x7e]+$/.test(key(n, tn, s))), { numRuns: 2000 });
});
