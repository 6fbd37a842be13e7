// The chart's wrapper use, rendered by a real helm: what a platform team reviews before it
// approves the chart (hardening, probes, ports, secrets, rollouts) and what a user's typo does.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import AjvModule from 'ajv';
import { ConfigSchema } from '../../src/config/schema.js';
import { chartDir, helm, render, type Manifest, type Rendered } from '../helpers/helm.js';

const routes = [
  { path: '/webhooks/stripe', provider: 'stripe', tenant: 'acme', secrets: ['file:/var/run/secrets/hookgate/stripe', 'env:STRIPE_PREVIOUS'] },
  { path: '/webhooks/:tenant/github', provider: 'github', tenant: 'param:tenant', secrets: { acme: ['file:/var/run/secrets/hookgate/github-acme'] } },
];
const secretValues = { stripe: 'whsec_current_0123456789', 'stripe-previous': 'whsec_previous_9876543210', 'github-acme': 'gh-acme-secret-abcdef' };
const values = {
  hookgate: {
    config: {
      ledger: { url: 'postgresql://hookgate@cockroachdb-public:26257/hookgate?sslmode=verify-full' },
      limits: { store: 'redis://redis-master:6379' },
      routes,
    },
    secrets: { values: secretValues, env: { STRIPE_PREVIOUS: 'stripe-previous' } },
  },
};

// The gateway's own validation of its config file (as src/config/load.ts runs it).
const Ajv = AjvModule.default ?? AjvModule;
const validateConfig = new Ajv({ allErrors: true, useDefaults: true, strict: false }).compile(ConfigSchema);

const podSpec = (r: Rendered): Manifest => r.get('Deployment').spec.template.spec;
const byName = (list: Manifest[] | undefined, name: string) => (list ?? []).find((c) => c.name === name);
const hookgateConfig = (r: Rendered) => parse(r.get('ConfigMap').data['hookgate.yaml']);
function ok(t: Test, r: Rendered): boolean {
  return t.equal(r.status, 0, 'helm template succeeds', { stderr: r.stderr });
}

t.test('helm lint --strict passes with the default values and with a full configuration', async (t) => {
  const plain = helm(['lint', '--strict', chartDir]);
  t.equal(plain.status, 0, plain.stdout + plain.stderr);
  const valuesArgs = ['--set-json', `hookgate=${JSON.stringify(values.hookgate)}`];
  const full = helm(['lint', '--strict', chartDir, ...valuesArgs, '--set', 'podDisruptionBudget.enabled=true,autoscaling.enabled=true,serviceMonitor.enabled=true,networkPolicy.enabled=true']);
  t.equal(full.status, 0, full.stdout + full.stderr);
});

t.test('wrapper: the app container plus hookgate as a native sidecar (init container, restartPolicy Always)', async (t) => {
  const r = render(chartDir, values);
  if (!ok(t, r)) return;
  const spec = podSpec(r);
  t.same(spec.initContainers.map((c: Manifest) => c.name), ['hookgate']);
  const hg = spec.initContainers[0];
  t.equal(hg.restartPolicy, 'Always');
  t.same(hg.args, ['run', '--config', '/etc/hookgate/hookgate.yaml']);
  t.same(spec.containers.map((c: Manifest) => c.name), ['app'], 'the app is the only regular container');
  const app = spec.containers[0];
  t.equal(app.image, 'registry.example.com/legacy-django:1.4');
  t.same(app.args, ['gunicorn', '--bind', '127.0.0.1:8000', 'app.wsgi'], 'the app binds loopback: only hookgate reaches it');
  t.equal(app.ports, undefined, 'the app exposes no port');
  t.equal(hookgateConfig(r).upstream.url, 'http://127.0.0.1:8000', 'hookgate forwards to the app over loopback');
  const config = hookgateConfig(r);
  t.ok(validateConfig(config), 'the rendered hookgate.yaml is a valid config for the gateway', { errors: validateConfig.errors });
});

t.test('fallback for clusters without native sidecars: hookgate as a plain second container', async (t) => {
  const r = render(chartDir, { ...values, hookgate: { ...values.hookgate, nativeSidecar: false } }, ['--kube-version', '1.28.0']);
  if (!ok(t, r)) return;
  const spec = podSpec(r);
  t.equal(spec.initContainers, undefined, 'no init containers');
  t.same(spec.containers.map((c: Manifest) => c.name), ['app', 'hookgate']);
  const hg = byName(spec.containers, 'hookgate')!;
  t.equal(hg.restartPolicy, undefined, 'a regular container has no restartPolicy');
  t.ok(hg.lifecycle?.preStop?.exec, 'hookgate waits for the endpoints to be removed before it stops accepting');

  const refused = render(chartDir, values, ['--kube-version', '1.28.0']);
  t.not(refused.status, 0, 'nativeSidecar on a 1.28 cluster is refused at render time');
  t.match(refused.stderr, /nativeSidecar needs Kubernetes >= 1\.29.*nativeSidecar=false/);
});

t.test('the Service sends traffic to hookgate\'s port, never to the app\'s', async (t) => {
  const r = render(chartDir, { ...values, hookgate: { ...values.hookgate, port: 8181 }, service: { port: 80 } });
  if (!ok(t, r)) return;
  const svc = r.get('Service');
  t.same(svc.spec.ports.map((p: Manifest) => [p.port, p.targetPort]), [[80, 8181]]);
  t.same(svc.spec.selector, r.get('Deployment').spec.selector.matchLabels, 'it selects the pods of the Deployment');
  const hg = podSpec(r).initContainers[0];
  t.equal(byName(hg.ports, 'http')?.containerPort, 8181, 'hookgate\'s container port');
  t.equal(hookgateConfig(r).listen, '0.0.0.0:8181', 'and hookgate listens there');
});

t.test('hardened by default: non-root, read-only root, no escalation, no capabilities, seccomp, resources, no token', async (t) => {
  const r = render(chartDir, values);
  if (!ok(t, r)) return;
  const spec = podSpec(r);
  t.equal(spec.automountServiceAccountToken, false);
  t.equal(r.get('ServiceAccount').automountServiceAccountToken, false);
  t.equal(spec.securityContext.runAsNonRoot, true);
  t.equal(spec.securityContext.seccompProfile.type, 'RuntimeDefault');
  for (const c of [...spec.initContainers, ...spec.containers]) {
    const sc = c.securityContext;
    t.equal(sc.runAsNonRoot, true, `${c.name}: runAsNonRoot`);
    t.equal(sc.readOnlyRootFilesystem, true, `${c.name}: readOnlyRootFilesystem`);
    t.equal(sc.allowPrivilegeEscalation, false, `${c.name}: allowPrivilegeEscalation`);
    t.same(sc.capabilities.drop, ['ALL'], `${c.name}: drop ALL`);
    t.equal(sc.seccompProfile.type, 'RuntimeDefault', `${c.name}: seccomp`);
    t.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, `${c.name}: resources`);
    t.ok((c.volumeMounts ?? []).some((m: Manifest) => m.mountPath === '/tmp'), `${c.name}: a writable /tmp for a read-only root`);
  }
  const hg = spec.initContainers[0];
  t.equal(hg.securityContext.runAsUser, 10001, 'the image\'s numeric user');
  t.notOk(hg.securityContext.privileged);
});

t.test('probes on the admin port: startup and liveness /healthz, readiness /readyz', async (t) => {
  const r = render(chartDir, values);
  if (!ok(t, r)) return;
  const hg = podSpec(r).initContainers[0];
  t.equal(byName(hg.ports, 'admin')?.containerPort, 9090);
  t.same(hg.startupProbe.httpGet, { path: '/healthz', port: 'admin' });
  t.same(hg.readinessProbe.httpGet, { path: '/readyz', port: 'admin' });
  t.same(hg.livenessProbe.httpGet, { path: '/healthz', port: 'admin' });
  t.equal(hookgateConfig(r).admin, '0.0.0.0:9090', 'the admin listener is reachable by the kubelet (not loopback)');
});

t.test('shutdown: the app sleeps in preStop, and the grace period covers its stop plus hookgate\'s drain', async (t) => {
  const r = render(chartDir, { ...values, hookgate: { ...values.hookgate, config: { ...values.hookgate.config, upstream: { timeout: '45s' } } } });
  if (!ok(t, r)) return;
  const spec = podSpec(r);
  t.same(byName(spec.containers, 'app')!.lifecycle.preStop.exec.command, ['sleep', '10']);
  t.equal(spec.terminationGracePeriodSeconds, 10 + 30 + 45 + 10, 'preStop 10s + app stop 30s + upstream.timeout 45s + 10s');

  const sleepAction = render(chartDir, { ...values, app: { preStop: { sleepSeconds: 7, action: 'sleep' } }, terminationGracePeriodSeconds: 120 });
  if (!ok(t, sleepAction)) return;
  t.same(byName(podSpec(sleepAction).containers, 'app')!.lifecycle.preStop, { sleep: { seconds: 7 } });
  t.equal(podSpec(sleepAction).terminationGracePeriodSeconds, 120, 'an explicit grace period wins');
});

t.test('the config checksum on the pod template follows the ConfigMap, so a config change rolls the pods', async (t) => {
  const a = render(chartDir, values);
  const b = render(chartDir, { ...values, hookgate: { ...values.hookgate, config: { ...values.hookgate.config, mode: 'monitor' } } });
  if (!ok(t, a) || !ok(t, b)) return;
  const sum = (r: Rendered) => r.get('Deployment').spec.template.metadata.annotations['checksum/hookgate-config'];
  const sha = (r: Rendered) => createHash('sha256').update(r.get('ConfigMap').data['hookgate.yaml'].replace(/\n$/, '')).digest('hex');
  t.match(sum(a), /^[0-9a-f]{64}$/);
  t.equal(sum(a), sha(a), 'the annotation is the hash of what the ConfigMap holds');
  t.equal(sum(b), sha(b));
  t.not(sum(a), sum(b), 'a different config, a different checksum');
  t.equal(hookgateConfig(b).mode, 'monitor');
  const again = render(chartDir, values);
  t.equal(sum(again), sum(a), 'the same config renders the same checksum (no needless rollouts)');
});

t.test('secrets: files under /var/run/secrets/hookgate (and env when asked), never in the ConfigMap', async (t) => {
  const r = render(chartDir, values);
  if (!ok(t, r)) return;
  const secret = r.get('Secret');
  t.same(Object.keys(secret.data).sort(), [...Object.keys(secretValues), 'checksum-salt'].sort(), 'the values, and the salt of the pod template\'s checksum');
  t.equal(Buffer.from(secret.data.stripe, 'base64').toString(), secretValues.stripe);
  const spec = podSpec(r);
  const volume = byName(spec.volumes, 'hookgate-secrets')!;
  t.equal(volume.secret.secretName, secret.metadata.name);
  const hg = spec.initContainers[0];
  t.same(byName(hg.volumeMounts, 'hookgate-secrets'), { name: 'hookgate-secrets', mountPath: '/var/run/secrets/hookgate', readOnly: true });
  t.equal(byName(hg.volumeMounts, 'hookgate-config')?.subPath, undefined, 'the config is a directory mount, so updates reach the pod');
  t.same(byName(hg.env, 'STRIPE_PREVIOUS')?.valueFrom, { secretKeyRef: { name: secret.metadata.name, key: 'stripe-previous' } });
  t.equal(byName(spec.containers, 'app')!.volumeMounts.some((m: Manifest) => m.name === 'hookgate-secrets'), false, 'the app does not see hookgate\'s secrets');

  const everythingButTheSecret = JSON.stringify(r.docs.filter((d) => d.kind !== 'Secret'));
  for (const [key, value] of Object.entries(secretValues)) {
    t.notOk(everythingButTheSecret.includes(value), `the value of ${key} appears nowhere but the Secret`);
    t.notOk(everythingButTheSecret.includes(Buffer.from(value).toString('base64')), `nor its base64`);
  }
  t.same(hookgateConfig(r).routes[0].secrets, routes[0]!.secrets, 'the ConfigMap holds references only');

  const existing = render(chartDir, { hookgate: { config: { routes }, secrets: { existingSecret: 'team-webhook-secrets' } } });
  if (!ok(t, existing)) return;
  t.same(existing.all('Secret'), [], 'with existingSecret the chart makes no Secret');
  t.equal(byName(podSpec(existing).volumes, 'hookgate-secrets')!.secret.secretName, 'team-webhook-secrets');
});

t.test('a credential written into the config is refused: it would end up in a ConfigMap', async (t) => {
  const literal = render(chartDir, { hookgate: { config: { routes: [{ path: '/x', provider: 'stripe', secrets: ['whsec_literal'] }] } } });
  t.not(literal.status, 0);
  t.match(literal.stderr, /routes\[0\]\.secrets\[0\] is a literal secret/);
  t.notMatch(literal.stderr, /whsec_literal/, 'the error does not repeat the secret');
  const perTenant = render(chartDir, { hookgate: { config: { routes: [{ path: '/x', provider: 'github', tenant: 'param:t', secrets: { acme: ['env:A', 'oops'] } }] } } });
  t.match(perTenant.stderr, /routes\[0\]\.secrets\.acme\[1\] is a literal secret/);
  const password = render(chartDir, { hookgate: { config: { ledger: { url: 'postgres://hookgate:hunter2@db:26257/hookgate' } } } });
  t.not(password.status, 0);
  t.match(password.stderr, /ledger\.url carries a password.*PGPASSWORD/);
  t.notMatch(password.stderr, /hunter2/);
});

t.test('a typo in the values is rejected by the schema, naming the key', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ hookgate: { nativSidecar: false } }, /nativSidecar/],
    [{ replicas: 3 }, /replicas/],
    [{ app: { imagePullPolicy: 'Sometimes' } }, /imagePullPolicy/],
    [{ hookgate: { securityContext: { readOnlyRootFileSystem: true } } }, /readOnlyRootFileSystem/],
    [{ hookgate: { config: { ledger: { onErorr: 'allow' } } } }, /onErorr/],
    [{ hookgate: { config: { routes: [{ path: '/x', provider: 'stripe', secrets: ['env:S'], tolerence: '5m' }] } } }, /tolerence/],
  ];
  for (const [bad, name] of cases) {
    const r = render(chartDir, bad);
    t.not(r.status, 0, `rejected: ${JSON.stringify(bad)}`);
    t.match(r.stderr, name, 'the error names the key');
    t.match(r.stderr, /schema|additional properties|value must be/i);
  }
  const listen = render(chartDir, { hookgate: { config: { listen: '0.0.0.0:1234' } } });
  t.match(listen.stderr, /hookgate\.config\.listen is set by the chart/, 'listen and admin come from hookgate.port / adminPort');
});

t.test('an on-disk embedded ledger gets a volume and is refused with more than one replica', async (t) => {
  const config = { ledger: { url: 'embedded:/var/lib/hookgate/ledger.db' } };
  const many = render(chartDir, { replicaCount: 2, hookgate: { config } });
  t.not(many.status, 0);
  t.match(many.stderr, /embedded:PATH is for one replica/);
  const one = render(chartDir, { replicaCount: 1, hookgate: { config } });
  if (!ok(t, one)) return;
  const hg = podSpec(one).initContainers[0];
  t.equal(byName(hg.volumeMounts, 'hookgate-data')?.mountPath, '/var/lib/hookgate');
  t.ok(byName(podSpec(one).volumes, 'hookgate-data')?.emptyDir);
  const none = render(chartDir, values);
  t.equal(byName(podSpec(none).volumes, 'hookgate-data'), undefined, 'no data volume for a postgres ledger');
});

t.test('a spooling embedded ledger: a PersistentVolumeClaim on request, and a warning while it sits in an emptyDir', async (t) => {
  const config = { ledger: { url: 'embedded:/var/lib/hookgate/ledger.db' }, routes: [{ ...routes[0], delivery: 'spool' }] };
  const plain = render(chartDir, { replicaCount: 1, hookgate: { config, secrets: { values: secretValues, env: { STRIPE_PREVIOUS: 'stripe-previous' } } } });
  if (!ok(t, plain)) return;
  t.ok(byName(podSpec(plain).volumes, 'hookgate-data')?.emptyDir, 'an emptyDir by default');
  t.equal(plain.docs.filter((d) => d.kind === 'PersistentVolumeClaim').length, 0);
  const notes = helm(['install', 'x', chartDir, '--dry-run=client', '--set', 'replicaCount=1', '--set-json', `hookgate=${JSON.stringify({ config, secrets: { values: secretValues, env: { STRIPE_PREVIOUS: 'stripe-previous' } } })}`]);
  t.match(notes.stdout, /WARNING: a route has delivery: spool \(or hybrid\) on an embedded ledger kept in an emptyDir/);
  const kept = render(chartDir, { replicaCount: 1, hookgate: { config, persistence: { enabled: true, size: '5Gi', storageClassName: 'fast' }, secrets: { values: secretValues, env: { STRIPE_PREVIOUS: 'stripe-previous' } } } });
  if (!ok(t, kept)) return;
  const pvc = kept.get('PersistentVolumeClaim');
  t.equal(pvc.spec.resources.requests.storage, '5Gi');
  t.equal(pvc.spec.storageClassName, 'fast');
  t.same(byName(podSpec(kept).volumes, 'hookgate-data')?.persistentVolumeClaim, { claimName: pvc.metadata.name }, 'the pod mounts the claim');
  const quiet = helm(['install', 'x', chartDir, '--dry-run=client', '--set', 'replicaCount=1,hookgate.persistence.enabled=true', '--set-json', `hookgate.config=${JSON.stringify(config)}`, '--set-json', `hookgate.secrets=${JSON.stringify({ values: secretValues, env: { STRIPE_PREVIOUS: 'stripe-previous' } })}`]);
  t.notMatch(quiet.stdout, /delivery: spool on an embedded ledger/);
});

t.test('PodDisruptionBudget, HPA, ServiceMonitor and NetworkPolicy are off by default and render when enabled', async (t) => {
  const off = render(chartDir, values);
  if (!ok(t, off)) return;
  t.same(off.docs.map((d) => d.kind).sort(), ['ConfigMap', 'Deployment', 'Secret', 'Service', 'ServiceAccount']);
  const on = render(chartDir, {
    ...values,
    podDisruptionBudget: { enabled: true },
    autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 9 },
    serviceMonitor: { enabled: true },
    networkPolicy: { enabled: true, metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] },
  });
  if (!ok(t, on)) return;
  const labels = on.get('Deployment').spec.selector.matchLabels;
  t.same(on.get('PodDisruptionBudget').spec, { minAvailable: 1, selector: { matchLabels: labels } });
  t.equal(on.get('Deployment').spec.replicas, undefined, 'the HPA owns the replica count');
  t.same([on.get('HorizontalPodAutoscaler').spec.minReplicas, on.get('HorizontalPodAutoscaler').spec.maxReplicas], [3, 9]);
  const monitor = on.get('ServiceMonitor');
  t.same(monitor.spec.endpoints[0].port, 'admin');
  t.equal(monitor.spec.endpoints[0].path, '/metrics');
  const adminSvc = on.all('Service').find((s) => s.spec.ports.some((p: Manifest) => p.name === 'admin'))!;
  t.ok(adminSvc, 'a Service for the admin port');
  t.same(adminSvc.metadata.labels, { ...adminSvc.metadata.labels, ...monitor.spec.selector.matchLabels }, 'that the ServiceMonitor selects');
  const trafficSvc = on.get('Service', on.get('Deployment').metadata.name);
  t.notOk(trafficSvc.spec.ports.some((p: Manifest) => p.targetPort === 9090), 'the traffic Service never exposes /metrics');
  const np = on.get('NetworkPolicy');
  t.same(np.spec.podSelector.matchLabels, labels);
  t.same(np.spec.ingress.map((i: Manifest) => i.ports[0].port), [8080, 9090], 'only hookgate\'s ports, not the app\'s');
  t.same(np.spec.policyTypes, ['Ingress']);
});
