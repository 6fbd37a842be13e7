// issue 13: the chart's default was 2 replicas with the in-memory ledger, which dedupes per replica
// (a duplicate reaching the other replica is forwarded again). With an embedded ledger the chart runs
// one replica, and refuses more.
import t from 'tap';
import { chartDir, render } from '../helpers/helm.js';

const routes = [{ path: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', secrets: ['file:/var/run/secrets/hookgate/stripe'] }];
const secrets = { values: { stripe: 'whsec_x' } };

t.test('an embedded ledger runs one replica by default', async (t) => {
  for (const ledger of [undefined, { url: 'embedded' }, { url: 'embedded:/var/lib/hookgate/ledger.db' }]) {
    const r = render(chartDir, { hookgate: { config: { ...(ledger ? { ledger } : {}), routes }, secrets } });
    t.equal(r.status, 0, r.stderr);
    if (r.status === 0) t.equal(r.get('Deployment').spec.replicas, 1, `ledger ${ledger?.url ?? '(default: embedded)'}: 1 replica`);
  }
});

t.test('more than one replica, or autoscaling, with an embedded ledger is refused', async (t) => {
  for (const ledger of [undefined, { url: 'embedded' }, { url: 'embedded:/var/lib/hookgate/ledger.db' }]) {
    for (const extra of [{ replicaCount: 2 }, { autoscaling: { enabled: true } }]) {
      const r = render(chartDir, { ...extra, hookgate: { config: { ...(ledger ? { ledger } : {}), routes }, secrets } });
      t.not(r.status, 0, `refused: ${JSON.stringify(extra)} with ${ledger?.url ?? 'the default ledger'}`);
      t.match(r.stderr, /hookgate\.config\.ledger\.url .*embedded.* one replica.*postgres:\/\//, 'the message says why and what to do');
    }
  }
});

t.test('a shared ledger keeps two replicas by default, and more when asked', async (t) => {
  const config = { ledger: { url: 'postgresql://hookgate@cockroachdb-public:26257/hookgate?sslmode=verify-full' }, routes };
  const r = render(chartDir, { hookgate: { config, secrets } });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.get('Deployment').spec.replicas, 2);
  const three = render(chartDir, { replicaCount: 3, hookgate: { config, secrets } });
  t.equal(three.get('Deployment').spec.replicas, 3);
  const fromSecret = render(chartDir, { replicaCount: 3, hookgate: { config: { ...config, ledger: { url: 'file:/var/run/secrets/hookgate/ledger-url' } }, secrets: { values: { ...secrets.values, 'ledger-url': 'postgres://h@db/x' } } } });
  t.equal(fromSecret.status, 0, 'a URL read from the Secret is taken to be shared');
});
