// Live reload from files: a kubelet-style secret swap while deliveries keep flowing, a realistic
// rotation (old + new listed, then old removed) with no delivery lost, an invalid config that leaves
// the old one in force, and the slow poll as a safety net.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { request } from 'undici';
import Stripe from 'stripe';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway } from '../helpers/gateway.js';
import { scrape } from '../helpers/metrics.js';
import { kubeVolume } from '../helpers/kube-volume.js';
import { loadConfigFile } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { liveReload } from '../../src/cli/run.js';
import { watchFiles, relevantEvent, serial } from '../../src/config/watch.js';

const stripe = new Stripe('sk_test_dummy');
const ANCIENT = 'whsec_watch_ancient_000';
const OLD = 'whsec_watch_old_111';
const NEW = 'whsec_watch_new_222';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded) until `cond` holds; returns whether it did. Not a timing assertion: the machine may be slow. */
async function until(cond: () => Promise<boolean> | boolean, tries = 1500, every = 20): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return true;
    await sleep(every);
  }
  return false;
}

async function setup(t: Test, routeSecrets: (secretDir: string) => string[], initial: Record<string, string>) {
  const held: (() => void)[] = [];
  // `?hold=1` keeps the upstream's answer until the test releases it: a delivery in flight.
  const up = await startUpstream((r, res) => (r.url.includes('hold=1') ? new Promise<void>((ok) => held.push(() => (res.end('held'), ok()))) : void res.end('ok')));
  t.teardown(async () => {
    for (const h of held) h();
    await up.close();
  });
  const root = mkdtempSync(join(tmpdir(), 'hookgate-watch-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const secrets = kubeVolume(join(root, 'secrets'), initial);
  // Limits far above the rate: the rotation test sends as fast as it can, and a 429 there would be the
  // limiter (as `hookgate run` builds it) doing its job, not a lost delivery.
  const yaml = (secretRefs: string[], extra = '') =>
    `upstream:\n  url: ${up.url}\nlimits:\n  unverified: 1000000/m\n  tenants: { "*": 1000000/m }\nroutes:\n  - path: /webhooks/stripe\n    provider: stripe\n    tenant: acme\n    secrets: [${secretRefs.join(', ')}]\n${extra}`;
  const config = kubeVolume(join(root, 'config'), { 'hookgate.yaml': yaml(routeSecrets(secrets.dir)) });
  const file = config.path('hookgate.yaml');
  const log = createLogger('silent');
  const gw = await startTestGateway(loadConfigFile(file, {}).config, { logger: log });
  t.teardown(() => gw.close());
  // No poll: only the folder watch can notice the swap.
  const live = liveReload(file, gw, log, {}, { debounceMs: 100, pollMs: 0 });
  t.teardown(() => live.close());
  let n = 0;
  const send = async (secret: string, query = '') => {
    const payload = JSON.stringify({ id: `evt_watch_${++n}`, type: 'ping' });
    const res = await request(`${gw.url}/webhooks/stripe${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret }) },
      body: payload,
    });
    await res.body.dump();
    return res.statusCode;
  };
  const reloads = async (result: 'success' | 'failure') => (await scrape(gw.adminUrl)).get('hookgate_config_reloads_total', { result }) ?? 0;
  const matches = async (index: number) => (await scrape(gw.adminUrl)).get('hookgate_secret_matches_total', { route: '/webhooks/stripe', index: String(index) }) ?? 0;
  return { gw, up, held, secrets, config, yaml, send, reloads, matches };
}

t.test('a single secret swapped by the kubelet: old works before, new works after the reload', async (t) => {
  const s = await setup(t, (dir) => [`file:${join(dir, 'stripe-secret')}`], { 'stripe-secret': OLD });
  t.equal(await s.send(OLD), 200, 'the mounted secret works');
  t.equal(await s.send(NEW), 401, 'the next one is not known yet');
  const inFlight = s.send(OLD, '?hold=1');
  t.ok(await until(() => s.held.length === 1), 'a delivery verified with the old secret is at the upstream');
  s.secrets.update({ 'stripe-secret': NEW });
  t.ok(await until(async () => (await s.reloads('success')) === 1), 'the swap of ..data is noticed and reloaded');
  s.held[0]!();
  t.equal(await inFlight, 200, 'the delivery in flight finished on the configuration it started with');
  t.equal(await s.send(NEW), 200, 'the new secret works');
  t.equal(await s.send(OLD), 401, 'the old one is gone: with one secret listed, the provider and the gateway cannot switch at the same instant');
  t.equal(await s.reloads('failure'), 0);
});

t.test('a rotation with both secrets listed loses no delivery', async (t) => {
  // The Secret holds the current and the previous key; the config lists both (tried in order).
  const s = await setup(t, (dir) => [`file:${join(dir, 'stripe-secret')}`, `file:${join(dir, 'stripe-previous')}`], { 'stripe-secret': OLD, 'stripe-previous': ANCIENT });
  let signer = OLD;
  let stop = false;
  const statuses: number[] = [];
  const flow = (async () => {
    for (let i = 0; i < 5000 && !stop; i++) statuses.push(await s.send(signer));
  })();
  const sent = () => statuses.length;
  const moreDeliveries = async (n: number) => {
    const from = sent();
    return until(() => sent() >= from + n);
  };

  t.ok(await moreDeliveries(5), 'deliveries flow');
  // 1. The operator adds the new secret; the previous one becomes the old one. One atomic swap.
  s.secrets.update({ 'stripe-secret': NEW, 'stripe-previous': OLD });
  t.ok(await until(async () => (await s.reloads('success')) === 1), 'reloaded after the swap');
  t.ok(await moreDeliveries(5), 'the provider still signs with the old secret');
  t.ok((await s.matches(1)) >= 5, 'and hookgate_secret_matches_total{index="1"} shows it');
  // 2. The provider rolls its secret (it now signs with the new one).
  signer = NEW;
  t.ok(await moreDeliveries(5));
  const oldMatches = await s.matches(1);
  t.ok(await moreDeliveries(5));
  t.equal(await s.matches(1), oldMatches, 'index 1 stopped moving: the old secret can be retired');
  // 3. The old secret is removed from the config, then from the Secret.
  s.config.update({ 'hookgate.yaml': s.yaml([`file:${s.secrets.path('stripe-secret')}`]) });
  t.ok(await until(async () => (await s.reloads('success')) === 2), 'reloaded after the config change');
  t.ok(await moreDeliveries(5));
  s.secrets.update({ 'stripe-secret': NEW });
  t.ok(await moreDeliveries(5));
  stop = true;
  await flow;

  t.ok(statuses.length >= 35, `${statuses.length} deliveries went through the rotation`);
  t.same(statuses.filter((c) => c !== 200), [], 'every delivery signed with a secret in force was accepted');
  t.equal(await s.send(OLD), 401, 'after the rotation the old secret is refused');
  t.equal(await s.reloads('failure'), 0, 'no reload failed on the way');
});

t.test('an invalid config written over the file leaves the old one serving', async (t) => {
  const s = await setup(t, (dir) => [`file:${join(dir, 'stripe-secret')}`], { 'stripe-secret': OLD });
  s.config.update({ 'hookgate.yaml': s.yaml([`file:${s.secrets.path('stripe-secret')}`], '    surprise: true\n') });
  t.ok(await until(async () => (await s.reloads('failure')) === 1), 'the failure is counted');
  t.equal(await s.reloads('success'), 0);
  t.equal(await s.send(OLD), 200, 'the previous configuration still serves');
  // A secret file that disappears is also a failed reload, not an outage.
  s.secrets.update({ 'other-key': 'x' });
  t.ok(await until(async () => (await s.reloads('failure')) === 2), 'a missing secret file fails the reload');
  t.equal(await s.send(OLD), 200, 'still serving');
  // Fixing both brings it back.
  s.secrets.update({ 'stripe-secret': NEW });
  s.config.update({ 'hookgate.yaml': s.yaml([`file:${s.secrets.path('stripe-secret')}`]) });
  t.ok(await until(async () => (await s.reloads('success')) >= 1), 'the corrected config is taken');
  t.ok(await until(async () => (await s.send(NEW)) === 200), 'with the new secret');
});

t.test('which folder events can change a watched file', async (t) => {
  const names = new Set(['hookgate.yaml', 'stripe-secret']);
  for (const n of ['hookgate.yaml', 'stripe-secret', '..data', '..data_tmp', '..2026_11_28_10_00_00.123456789']) t.ok(relevantEvent(names, n), n);
  t.ok(relevantEvent(names, null), 'an event without a name');
  for (const n of ['ledger.db', 'ledger.db-wal', '.hookgate.yaml.swp', 'hookgate.yaml~', 'other-key']) t.notOk(relevantEvent(names, n), n);
  t.notOk(relevantEvent(undefined, 'hookgate.yaml'), 'a folder no longer watched');
});

t.test('reloads never overlap; calls during one collapse into one more', async (t) => {
  let running = 0;
  let max = 0;
  let runs = 0;
  const gates: (() => void)[] = [];
  const run = serial(async () => {
    running++;
    runs++;
    max = Math.max(max, running);
    await new Promise<void>((r) => gates.push(r));
    running--;
    return runs;
  });
  const a = run();
  const b = run();
  const c = run();
  t.equal(b, c, 'the second and third call share the queued run');
  gates[0]!();
  t.equal(await a, 1);
  t.ok(await until(() => gates.length === 2), 'the queued run started after the first ended');
  gates[1]!();
  t.equal(await b, 2);
  t.equal(runs, 2);
  t.equal(max, 1, 'never two at once');
});

t.test('the folder watch: only the watched files count, editor-style renames too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-watchdir-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, 'one');
  const seen: string[][] = [];
  const w = watchFiles({ files: () => [file], onChange: (changed) => void seen.push(changed), debounceMs: 50, pollMs: 0 });
  t.teardown(() => w.close());
  // A busy neighbour (an embedded ledger's WAL) writes faster than the debounce: it must neither
  // reload anything nor keep postponing the reload of a real change.
  let i = 0;
  for (; i < 20; i++) (writeFileSync(join(dir, 'ledger.db-wal'), `churn ${i}`), await sleep(5));
  t.equal(seen.length, 0, 'churn beside the file reloads nothing');
  writeFileSync(join(dir, '.hookgate.yaml.swp'), 'two');
  renameSync(join(dir, '.hookgate.yaml.swp'), file);
  for (; i < 600 && seen.length === 0; i++) (writeFileSync(join(dir, 'ledger.db-wal'), `churn ${i}`), await sleep(5));
  t.equal(seen.length, 1, 'a write-and-rename over the file is seen while the churn goes on');
  t.same(seen[0], [file]);
  w.close();
  // A second watcher on the same file is the witness: once it has seen the write, the closed one
  // would have too.
  const witnessed: string[][] = [];
  const witness = watchFiles({ files: () => [file], onChange: (changed) => void witnessed.push(changed), debounceMs: 50, pollMs: 0 });
  t.teardown(() => witness.close());
  writeFileSync(file, 'three');
  t.ok(await until(() => witnessed.length === 1), 'the witness saw the write');
  t.equal(seen.length, 1, 'nothing after close');
});

t.test('the slow poll notices a change the watch would miss', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-poll-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'a'));
  const file = join(dir, 'a', 'secret');
  writeFileSync(file, 'one');
  const seen: string[][] = [];
  // Each poll asks for the file list (to re-watch): counting those calls counts the polls.
  let asked = 0;
  const polls = (n: number) => { const from = asked; return until(() => asked >= from + n + 1); };
  // A debounce longer than the test: only the poll can call onChange.
  const w = watchFiles({ files: () => (asked++, [file]), onChange: (changed) => void seen.push(changed), debounceMs: 3_600_000, pollMs: 50 });
  t.teardown(() => w.close());
  t.ok(await polls(2), 'two polls ran');
  t.equal(seen.length, 0, 'nothing changed, nothing reported');
  writeFileSync(file, 'two');
  t.ok(await until(() => seen.length === 1), 'the poll compared the content and reported it');
  t.same(seen[0], [file]);
  writeFileSync(file, 'two'); // same content: a touch is not a change
  t.ok(await polls(2), 'two more polls ran');
  t.equal(seen.length, 1, 'same content, no reload');
});

t.test('a secret changed between the load and the watcher\'s start is noticed on the first comparison', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const root = mkdtempSync(join(tmpdir(), 'hookgate-watch-race-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const secrets = kubeVolume(join(root, 'secrets'), { 'stripe-secret': OLD });
  const file = join(root, 'hookgate.yaml');
  writeFileSync(file, `upstream:\n  url: ${up.url}\nroutes:\n  - path: /webhooks/stripe\n    provider: stripe\n    tenant: acme\n    secrets: [file:${secrets.path('stripe-secret')}]\n`);
  const log = createLogger('silent');
  const send = async (gwUrl: string, secret: string, id: string) => {
    const payload = JSON.stringify({ id, type: 'ping' });
    const res = await request(`${gwUrl}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret }) },
      body: payload,
    });
    await res.body.dump();
    return res.statusCode;
  };

  for (const withBaseline of [true, false]) {
    secrets.update({ 'stripe-secret': OLD });
    const loaded = loadConfigFile(file, {});
    t.ok(loaded.digests.has(file) && loaded.digests.has(secrets.path('stripe-secret')), 'the load says what it read: the config file and the secret file');
    t.notMatch(JSON.stringify([...loaded.digests.values()]), new RegExp(createHash('sha256').update(OLD).digest('hex')), 'not a plain SHA-256 of the secret');
    const gw = await startTestGateway(loaded.config, { logger: log });
    t.teardown(() => gw.close());
    // The window `hookgate run` has between loading and watching (opening the ledger, starting the
    // gateway): the operator rotates the secret.
    secrets.update({ 'stripe-secret': NEW });
    const live = liveReload(file, gw, log, {}, { debounceMs: 3_600_000, pollMs: 0, ...(withBaseline ? { baseline: loaded.digests } : {}) });
    t.teardown(() => live.close());
    await live.check(); // the first comparison, as the poll or the next folder event would run it
    const reloads = (await scrape(gw.adminUrl)).get('hookgate_config_reloads_total', { result: 'success' }) ?? 0;
    if (withBaseline) {
      t.equal(reloads, 1, 'the change is noticed and reloaded');
      t.equal(await send(gw.url, NEW, 'evt_race_new'), 200, 'the rotated secret is in force');
      t.equal(await send(gw.url, OLD, 'evt_race_old'), 401, 'the old one is not');
      await live.check();
      t.equal((await scrape(gw.adminUrl)).get('hookgate_config_reloads_total', { result: 'success' }) ?? 0, 1, 'and only once: the reload\'s own reads are the new baseline');
    } else {
      // What happened before the baseline came from the load: the watcher's first hashes already see
      // the new secret, so nothing is ever reloaded while the old one stays in force.
      t.equal(reloads, 0, 'without the baseline the change is missed (why run.ts passes it)');
      t.equal(await send(gw.url, NEW, 'evt_race_missed'), 401);
    }
    live.close();
    await gw.close();
  }
});
