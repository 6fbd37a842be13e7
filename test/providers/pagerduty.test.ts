import t from 'tap';
import { createHmac } from 'node:crypto';
import { BODY, SECRET, runCommonCases, verify } from './harness.js';

// no official signer: node:crypto; the published vector of PagerDuty's Go SDK pins the construction
const EVENT = Buffer.from('{"event":{"id":"01BWDWL3NYY7LUFPZCC28QUCMK","event_type":"incident.triggered","data":{"id":"PGR0VU2"}}}');
const v1 = (secret: string, body = EVENT) => 'v1=' + createHmac('sha256', secret).update(body).digest('hex');

runCommonCases(t, {
  name: 'pagerduty',
  other: 'other_secret',
  signer: 'node:crypto (PagerDuty has no signer)',
  sign: (secret) => ({ headers: { 'X-PagerDuty-Signature': v1(secret) }, body: EVENT }),
  header: 'x-pagerduty-signature',
  timestamped: false,
  id: '01BWDWL3NYY7LUFPZCC28QUCMK',
  garbled: 'signature_invalid', // entries that are not v1= are other schemes, ignored; none is left to match
  joined: 'ok', // "v1=a, v1=a" is the comma list PagerDuty itself sends
});

t.test("pagerduty: the published vector of go-pagerduty's webhookv3 test verifies (the secret is used as is, not base64-decoded)", async (t) => {
  const secret = 'lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK';
  const body = Buffer.from('{"event":{"id":"01BWDWL3NYY7LUFPZCC28QUCMK","event_type":"incident.priority_updated","resource_type":"incident","occurred_at":"2021-04-26T17:36:27.458Z","agent":{"html_url":"https://acme.pagerduty.com/users/PLH1HKV","id":"PLH1HKV","self":"https://api.pagerduty.com/users/PLH1HKV","summary":"Tenex Engineer","type":"user_reference"},"client":null,"data":{"id":"PGR0VU2","type":"incident","self":"https://api.pagerduty.com/incidents/PGR0VU2","html_url":"https://acme.pagerduty.com/incidents/PGR0VU2","number":2,"status":"triggered","title":"A little bump in the road","service":{"html_url":"https://acme.pagerduty.com/services/PF9KMXH","id":"PF9KMXH","self":"https://api.pagerduty.com/services/PF9KMXH","summary":"API Service","type":"service_reference"},"assignees":[{"html_url":"https://acme.pagerduty.com/users/PTUXL6G","id":"PTUXL6G","self":"https://api.pagerduty.com/users/PTUXL6G","summary":"User 123","type":"user_reference"}],"escalation_policy":{"html_url":"https://acme.pagerduty.com/escalation_policies/PUS0KTE","id":"PUS0KTE","self":"https://api.pagerduty.com/escalation_policies/PUS0KTE","summary":"Default","type":"escalation_policy_reference"},"teams":[{"html_url":"https://acme.pagerduty.com/teams/PFCVPS0","id":"PFCVPS0","self":"https://api.pagerduty.com/teams/PFCVPS0","summary":"Engineering","type":"team_reference"}],"priority":{"html_url":"https://acme.pagerduty.com/account/incident_priorities","id":"PSO75BM","self":"https://api.pagerduty.com/priorities/PSO75BM","summary":"P1","type":"priority_reference"},"urgency":"high","conference_bridge":{"conference_number":1000,"conference_url":"https://example.com"},"resolve_reason":null}}}');
  const ok = verify('pagerduty', [secret], { headers: { 'x-pagerduty-signature': 'v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd' }, body });
  t.same(ok, { ok: true, secretIndex: 0, id: '01BWDWL3NYY7LUFPZCC28QUCMK' });
  const mismatch = verify('pagerduty', [secret], { headers: { 'x-pagerduty-signature': 'v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5' }, body });
  t.equal(!mismatch.ok && mismatch.code, 'signature_invalid', 'the vector of its mismatch case');
});

t.test('pagerduty: the two-secret fixture of providers.md §5.2 verifies with either secret', async (t) => {
  const headers = { 'x-pagerduty-signature': 'v1=23fa5ed32cebccfa18379be259f5c5132d9831af1fa75951630c8d1cf6296f8e,v1=6b4c28ff6ab5495cebd45a11f72dd4f4317a17fe3647dce1c03ca8f30899e11d' };
  t.equal(verify('pagerduty', [SECRET], { headers, body: BODY }).ok, true, 'new secret');
  t.equal(verify('pagerduty', ['old_test_secret_0123456789'], { headers, body: BODY }).ok, true, 'old secret');
});

t.test('pagerduty: a v1= entry that is not hex is malformed', async (t) => {
  const v = verify('pagerduty', [SECRET], { headers: { 'x-pagerduty-signature': `${v1(SECRET)},v1=zz` }, body: EVENT });
  t.equal(!v.ok && v.code, 'malformed');
});

t.test('pagerduty: a signed body that is not JSON is malformed (event.id is needed)', async (t) => {
  const body = Buffer.from('plain');
  const v = verify('pagerduty', [SECRET], { headers: { 'x-pagerduty-signature': v1(SECRET, body) }, body });
  t.equal(!v.ok && v.code, 'malformed');
});
