// issue 13: the pod annotation that rolls the pods when the chart-made Secret changes was an unsalted
// sha256 of the secret values: anyone who can read pods could test guesses offline. It is now salted
// with a random value kept in the Secret itself (reused on upgrade through lookup), or the operator's.
import t from 'tap';
import { createHash } from 'node:crypto';
import { chartDir, render, type Rendered } from '../helpers/helm.js';

const MOUNT = '/var/run/secrets/hookgate/';
const secretValues = { 'ledger-url': 'postgres://hookgate:guessable@db:5432/hooks', stripe: 'whsec_short' };
const config = {
  ledger: { url: `file:${MOUNT}ledger-url` },
  routes: [{ path: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', secrets: [`file:${MOUNT}stripe`] }],
};
const annotation = (r: Rendered): string => r.get('Deployment').spec.template.metadata.annotations['checksum/hookgate-secret-env'];
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
// What helm's `toJson` makes of the values (Go sorts map keys), i.e. what an attacker would hash.
const toJson = (o: Record<string, string>) => JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1))));

t.test('the secret checksum on the pod template cannot be checked against guessed values', async (t) => {
  const r = render(chartDir, { replicaCount: 1, hookgate: { config, secrets: { values: secretValues } } });
  t.equal(r.status, 0, r.stderr);
  const sum = annotation(r);
  t.match(sum, /^[0-9a-f]{64}$/, 'a checksum is on the pod template');
  t.not(sum, sha256(toJson(secretValues)), 'not the plain sha256 of the values (the right guess would match it)');
  t.not(sum, sha256(JSON.stringify(secretValues)));

  const secret = r.get('Secret');
  const salt = Buffer.from(secret.data['checksum-salt'] ?? '', 'base64').toString();
  t.ok(salt.length >= 32, 'a random salt of 32+ characters is kept in the Secret, readable only with the Secret');
  t.equal(sum, sha256(salt + toJson(secretValues)), 'the checksum is of the salt and the values');
});

t.test('with a fixed salt (rendering without a cluster) the same values render the same checksum, other values another', async (t) => {
  const salt = 'a-salt-from-the-operators-secret-values-file-0123456789';
  const a = render(chartDir, { replicaCount: 1, hookgate: { config, secrets: { values: secretValues, checksumSalt: salt } } });
  const again = render(chartDir, { replicaCount: 1, hookgate: { config, secrets: { values: secretValues, checksumSalt: salt } } });
  const other = render(chartDir, { replicaCount: 1, hookgate: { config, secrets: { values: { ...secretValues, stripe: 'whsec_rotated' }, checksumSalt: salt } } });
  for (const r of [a, again, other]) t.equal(r.status, 0, r.stderr);
  t.equal(annotation(a), annotation(again), 'no needless rollout');
  t.not(annotation(a), annotation(other), 'a changed value rolls the pods');
  t.equal(Buffer.from(a.get('Secret').data['checksum-salt'], 'base64').toString(), salt);
  t.notMatch(JSON.stringify(a.get('Deployment')), /a-salt-from/, 'the salt is not on the pod template');
});
