// Payload rules at the gateway (CONTRACT.md, Payload rules): a signed delivery whose payload breaks
// the route's schema, names another tenant, or nests too deep is refused with 422 payload_invalid
// (pointer and rule, never a body value), before the tenant limit and the claim: nothing is claimed,
// counted against the tenant or forwarded. A conforming one is forwarded byte for byte. Signatures
// come from the providers' own packages.
import t, { type Test } from 'tap';
import { request } from 'undici';
import Stripe from 'stripe';
import { sign as githubSign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { openLedger } from '../../src/ledger/index.js';
import type { Ledger } from '../../src/ledger/types.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createLimiters, type LimitersDeps } from '../../src/limits/index.js';

const stripe = new Stripe('sk_test_dummy');
const ACME = 'whsec_payload_acme_0123456789';
const GLOBEX = 'whsec_payload_globex_9876543210';
const GH = 'gh-payload-secret';
const GHPUSH = 'gh-payload-push-secret';
const ENV = { ACME, GLOBEX, GH, GHPUSH };
// Appears only in bodies: a 422 must never echo it.
const DISTINCTIVE = 'zq-SECRET-VALUE-7f3a91';

const ROUTES = [
  {
    path: '/t/:tenant/stripe', provider: 'stripe', tenant: 'param:tenant', secrets: { acme: ['env:ACME'], globex: ['env:GLOBEX'] },
    payload: { schema: 'file:config/schemas/stripe-event.json', tenantField: 'json:data.object.metadata.tenant', maxDepth: 32 },
  },
  // GitHub's verifier reads nothing of the body but its bytes: here the depth check is the first look at it.
  { path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:GH'], payload: { maxDepth: 8, schema: { type: 'object', required: ['ref'] } } },
  { path: '/gh/push', provider: 'github', tenant: 'initech', secrets: ['env:GHPUSH'], payload: { schema: 'file:config/schemas/github-push.json', maxDepth: 32 } },
];

const SHA = (c: string) => c.repeat(40);
/** A push as GitHub sends it (trimmed of URLs the schema does not name). */
function push(patch: (p: Record<string, any>) => void = () => undefined): Record<string, any> {
  const account = { name: 'octo', email: 'octo@example.com', login: 'octocat', id: 583231, node_id: 'MDQ6VXNlcjU4MzIzMQ==', type: 'User', site_admin: false };
  const commit = {
    id: SHA('b'), tree_id: SHA('c'), distinct: true, message: 'Fix the thing', timestamp: '2026-12-06T10:00:00+01:00', url: 'https://github.com/octo/repo/commit/bbbb',
    author: { name: 'Octo Cat', email: 'octo@example.com', username: 'octocat' }, committer: { name: 'GitHub', email: 'noreply@github.com', username: 'web-flow' },
    added: [], removed: [], modified: ['README.md'],
  };
  const p: Record<string, any> = {
    ref: 'refs/heads/main', before: SHA('a'), after: SHA('b'), base_ref: null, compare: 'https://github.com/octo/repo/compare/aaaa...bbbb',
    created: false, deleted: false, forced: false, commits: [commit], head_commit: commit, pusher: { name: 'octocat', email: 'octo@example.com' },
    repository: { id: 1296269, node_id: 'MDEwOlJlcG9zaXRvcnkxMjk2MjY5', name: 'repo', full_name: 'octo/repo', private: false, owner: account, default_branch: 'main' },
    sender: account,
  };
  patch(p);
  return p;
}

let n = 0;
function event(tenant: string, patch: (e: Record<string, any>) => void = () => undefined): Record<string, any> {
  const e: Record<string, any> = {
    id: `evt_1Payload${n++}`, object: 'event', api_version: '2024-06-20', created: 1_700_000_000,
    data: { object: { id: 'ch_1', object: 'charge', amount: 2000, metadata: { tenant, order: 'o-1' } } },
    livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type: 'charge.succeeded',
  };
  patch(e);
  return e;
}

interface Answer { status: number; outcome: string | undefined; verdict: string | undefined; text: string; json: any }

async function setup(t: Test, mode: 'enforce' | 'monitor' = 'enforce') {
  const up = await startUpstream((_r, res) => void res.end('handled'));
  t.teardown(() => up.close());
  const config = testConfig({ mode, upstream: { url: up.url }, limits: { tenants: { acme: '1/m' } }, routes: ROUTES }, ENV);
  // A ledger that remembers every key it was asked to claim.
  const inner = await openLedger({ url: 'embedded', retentionMs: 3_600_000, leaseMs: 30_000, cache: 1000, migrate: true });
  const claimed: string[] = [];
  const ledger: Ledger = {
    backend: inner.backend,
    claim: (k) => (claimed.push(k), inner.claim(k)),
    complete: (k, tok, s) => inner.complete(k, tok, s),
    release: (k, tok) => inner.release(k, tok),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  const metrics = createMetrics({ defaultMetrics: false });
  const limits = createLimiters(config, { metrics, log: { warn: () => undefined, info: () => undefined } as unknown as LimitersDeps['log'] });
  await limits.ready();
  const gw = await startTestGateway(config, { ledger, metrics, limiters: limits.limiters });
  t.teardown(async () => {
    await gw.close();
    await limits.close();
  });
  const post = async (path: string, body: string | Buffer, headers: Record<string, string>): Promise<Answer> => {
    const res = await request(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const text = await res.body.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, outcome: res.headers['hookgate-outcome'] as string, verdict: res.headers['hookgate-verdict'] as string | undefined, text, json };
  };
  const postStripe = (tenant: string, body: string, secret = tenant === 'acme' ? ACME : GLOBEX) =>
    post(`/t/${tenant}/stripe`, body, { 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: body, secret }) });
  const postGithub = async (body: string) => post('/gh', body, { 'x-hub-signature-256': await githubSign(GH, body) });
  return { up, gw, claimed, post, postStripe, postGithub };
}

t.test('a signed delivery whose payload breaks the schema gets 422 and the upstream sees nothing', async (t) => {
  const { up, gw, claimed, postStripe } = await setup(t);
  const r = await postStripe('acme', JSON.stringify(event('acme', (e) => (e.created = DISTINCTIVE))));
  t.equal(r.status, 422);
  t.equal(r.outcome, 'payload_invalid');
  t.same(r.json, { error: 'payload_invalid', message: '/created must be integer', pointer: '/created', rule: 'type' });
  const missing = await postStripe('acme', JSON.stringify(event('acme', (e) => delete e.data.object.object)));
  t.equal(missing.status, 422);
  t.match(missing.json, { pointer: '/data/object/object', rule: 'required' }, 'a missing member is pointed at by its name');
  t.equal(up.received.length, 0, 'the upstream saw nothing');
  t.same(claimed, [], 'nothing was claimed');
  const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  t.match(metrics, /hookgate_requests_total\{route="\/t\/:tenant\/stripe",provider="stripe",tenant="acme",outcome="payload_invalid"\} 2/);
});

t.test('a signed delivery for tenant acme whose tenant field says globex gets 422', async (t) => {
  const { up, claimed, postStripe } = await setup(t);
  const r = await postStripe('acme', JSON.stringify(event('globex')));
  t.equal(r.status, 422);
  t.equal(r.outcome, 'payload_invalid');
  t.match(r.json, { error: 'payload_invalid', pointer: '/data/object/metadata/tenant', rule: 'tenantField' });
  t.notMatch(r.text, /globex/, 'the other tenant named in the body is not echoed');
  const none = await postStripe('acme', JSON.stringify(event('acme', (e) => delete e.data.object.metadata.tenant)));
  t.match(none.json, { pointer: '/data/object/metadata/tenant', rule: 'tenantField' }, 'no tenant field at all is refused too');
  // The same body for globex, signed with globex's secret, is globex's own delivery.
  const own = await postStripe('globex', JSON.stringify(event('globex')));
  t.equal(own.status, 200);
  t.equal(own.outcome, 'forwarded');
  t.equal(up.received.length, 1, 'only the delivery whose tenant field matches reached the upstream');
  t.equal(up.received[0]!.headers['hookgate-tenant'], 'globex');
  t.equal(claimed.length, 1);
});

t.test('a conforming delivery is forwarded byte for byte, after refusals that did not count against the tenant limit', async (t) => {
  const { up, claimed, postStripe } = await setup(t);
  // acme's limit is 1/m: three refused payloads before it must not use it up.
  for (let i = 0; i < 3; i++) t.equal((await postStripe('acme', JSON.stringify(event('acme', (e) => (e.livemode = 'no'))))).status, 422);
  const e = event('acme');
  // Non-canonical JSON: odd spacing, CRLF, escaped and raw non-ASCII, key order of our own.
  const body = JSON.stringify(e, null, 3).replace(/\n/g, '\r\n').replace('"ch_1"', '"ch_1\\u00e9"') + '  \r\n';
  const header = stripe.webhooks.generateTestHeaderString({ payload: body, secret: ACME });
  const r = await postStripe('acme', body);
  t.equal(r.status, 200, r.text);
  t.equal(r.outcome, 'forwarded');
  t.equal(r.text, 'handled');
  t.equal(up.received.length, 1);
  t.ok(up.received[0]!.body.equals(Buffer.from(body)), 'the same bytes');
  t.match(up.received[0]!.headers['stripe-signature'], /^t=\d+,v1=[0-9a-f]{64}/, 'with its signature header');
  t.equal(header.length > 0, true);
  t.equal(claimed.length, 1, 'claimed once, by the conforming delivery');
  t.equal((await postStripe('acme', JSON.stringify(event('acme')))).status, 429, 'and the limit then applies as usual');
});

t.test('too deep: 422 maxDepth, judged on the bytes before any parse', async (t) => {
  const { up, postGithub } = await setup(t);
  // Not JSON past the limit: a parse would have said `json`; the depth scan stops at the 9th level.
  const broken = `{"ref":"refs/heads/main","x":${'['.repeat(9)}"${DISTINCTIVE}`;
  const r = await postGithub(broken);
  t.equal(r.status, 422);
  t.same(r.json, { error: 'payload_invalid', message: 'the body nests objects and arrays deeper than 8 levels', pointer: '', rule: 'maxDepth' });
  const deep = await postGithub('['.repeat(100_000) + ']'.repeat(100_000));
  t.equal(deep.status, 422, 'a hundred thousand levels');
  t.equal(deep.json.rule, 'maxDepth');
  const notJson = await postGithub(`{"ref": ${DISTINCTIVE}`);
  t.match(notJson.json, { pointer: '', rule: 'json' }, 'shallow but not JSON: refused by the parse');
  // Brackets and escaped quotes inside strings are not nesting.
  const shallow = JSON.stringify({ ref: 'refs/heads/main', s: '[[[[[[[[[[{{{{{{{{{{\\"[[[[', a: [[[[[[[1]]]]]]] });
  const ok = await postGithub(shallow);
  t.equal(ok.status, 200, ok.text);
  t.equal(up.received.length, 1);
  t.ok(up.received[0]!.body.equals(Buffer.from(shallow)));
  for (const a of [r, deep, notJson]) t.notMatch(a.text, DISTINCTIVE);
});

t.test('the 422 body never contains a body value or a member name the schema does not name', async (t) => {
  const { up, postStripe } = await setup(t);
  const cases: [string, (e: Record<string, any>) => void, string, string][] = [
    ['a value of the wrong type', (e) => (e.pending_webhooks = DISTINCTIVE), '/pending_webhooks', 'type'],
    ['a value breaking a pattern', (e) => (e.id = `evt_${DISTINCTIVE}`), '/id', 'pattern'],
    ['a const', (e) => (e.object = DISTINCTIVE), '/object', 'const'],
    ['a metadata key chosen by the sender', (e) => (e.data.object.metadata[DISTINCTIVE] = 42), '/data/object/metadata/*', 'type'],
    ['a metadata value too long', (e) => (e.data.object.metadata.order = DISTINCTIVE.repeat(30)), '/data/object/metadata/*', 'maxLength'],
    ['an event type of the wrong shape', (e) => (e.type = DISTINCTIVE), '/type', 'pattern'],
  ];
  for (const [what, patch, pointer, rule] of cases) {
    const body = JSON.stringify(event('acme', patch));
    t.ok(body.includes(DISTINCTIVE), `${what}: the value is in the body`);
    const r = await postStripe('acme', body);
    t.equal(r.status, 422, what);
    t.match(r.json, { error: 'payload_invalid', pointer, rule }, what);
    t.notMatch(r.text, DISTINCTIVE, `${what}: not in the answer`);
    t.notMatch(r.text, /7f3a91|SECRET/, `${what}: no part of it either`);
  }
  t.equal(up.received.length, 0);
});

t.test('monitor mode forwards a payload that breaks the rules with hookgate-verdict: payload_invalid', async (t) => {
  const { up, claimed, postStripe, post } = await setup(t, 'monitor');
  const bad = await postStripe('acme', JSON.stringify(event('globex')));
  t.equal(bad.status, 200);
  t.equal(bad.outcome, 'forwarded');
  t.equal(bad.verdict, 'payload_invalid');
  const good = await postStripe('acme', JSON.stringify(event('acme')));
  t.equal(good.verdict, 'ok');
  // An unverified delivery keeps its signature verdict: payload rules judge only verified ones.
  const body = JSON.stringify(event('acme', (e) => (e.created = 'x')));
  const unsigned = await post('/t/acme/stripe', body, { 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_wrong' }) });
  t.equal(unsigned.verdict, 'signature_invalid');
  t.equal(up.received.length, 3, 'everything reached the upstream');
  t.same(claimed, [], 'monitor mode claims nothing');
});

t.test('the shipped GitHub push schema: a real push is forwarded, a broken one is refused with its pointer', async (t) => {
  const { up, post } = await setup(t);
  const send = async (body: string) => post('/gh/push', body, { 'x-github-event': 'push', 'x-hub-signature-256': await githubSign(GHPUSH, body) });
  const ok = await send(JSON.stringify(push()));
  t.equal(ok.status, 200, ok.text);
  const deletedBranch = await send(JSON.stringify(push((p) => ((p.deleted = true), (p.after = SHA('0')), (p.commits = []), (p.head_commit = null)))));
  t.equal(deletedBranch.status, 200, 'a deleted branch (head_commit null) conforms');
  const badSha = await send(JSON.stringify(push((p) => (p.commits[0].id = DISTINCTIVE))));
  t.match(badSha.json, { error: 'payload_invalid', pointer: '/commits/0/id', rule: 'pattern' });
  t.notMatch(badSha.text, DISTINCTIVE);
  const noRepo = await send(JSON.stringify(push((p) => delete p.repository)));
  t.match(noRepo.json, { pointer: '/repository', rule: 'required' });
  const ownerName = await send(JSON.stringify(push((p) => (p.repository.full_name = 'no-slash'))));
  t.match(ownerName.json, { pointer: '/repository/full_name', rule: 'pattern' });
  t.equal(up.received.length, 2);
});
