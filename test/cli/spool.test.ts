// `hookgate spool …` straight on the ledger file, with no gateway running: a delivery the upstream
// kept failing is dead, listed by `ls --state dead`, and `replay` has it delivered by the next gateway.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { runCli } from '../helpers/cli.js';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway } from '../helpers/gateway.js';
import { sleep } from '../helpers/ledger-backends.js';
import { loadConfigFile } from '../../src/config/load.js';
import { openLedger } from '../../src/ledger/index.js';

const SECRET = 'spool-cli-secret';

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

t.test('dead → ls --state dead → replay → delivered by the next gateway; pause/resume; stats', async (t) => {
  let status = 500;
  const up = await startUpstream((_r, res) => void ((res.statusCode = status), res.end()));
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, `upstream: { url: "${up.url}" }
ledger: { url: "embedded:${join(dir, 'ledger.db')}" }
routes:
  - { path: /gh, provider: github, tenant: acme, secrets: [env:GH], delivery: spool, spool: { retry: [50ms] } }
`);
  const env = { GH: SECRET };
  const start = async () => {
    const { config } = loadConfigFile(file, env);
    const ledger = await openLedger({ url: config.ledger.url, retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: 10, migrate: true, synchronous: 'full' });
    return startTestGateway(config, { ledger, spoolPollMs: 50 });
  };

  let gw = await start();
  const body = '{"cli":true}';
  const res = await request(`${gw.url}/gh`, { method: 'POST', headers: { 'x-hub-signature-256': await sign(SECRET, body), 'content-type': 'application/json' }, body });
  await res.body.dump();
  t.equal(res.headers['hookgate-outcome'], 'spooled');
  await until('dead after its schedule', () => up.received.length === 2);
  await sleep(200);
  await gw.close();

  const ls = await runCli(['spool', 'ls', '--state', 'dead', '--config', file], env);
  t.equal(ls.code, 0, ls.err);
  const lines = ls.out.trim().split('\n');
  t.equal(lines.length, 1);
  const [id, state, attempts, last, route] = lines[0]!.split('\t');
  t.match(id, /^[0-9a-f]{64}$/);
  t.same([state, attempts, last, route], ['dead', '2', '500', '/gh']);

  const stats = await runCli(['spool', 'stats', '--config', file], env);
  t.match(stats.out, /\/gh\tacme\tdead\t1/);
  const shown = await runCli(['spool', 'show', id!, '--bytes', '--config', file], env);
  const headers = JSON.parse(shown.out).request.headers as string[];
  t.equal(headers[headers.indexOf('x-hub-signature-256') + 1], '[redacted]', 'the signature header is redacted');
  t.notMatch(shown.out, /sha256=/);

  const dry = await runCli(['spool', 'replay', '--state', 'dead', '--route', '/gh', '--since', '1h', '--dry-run', '--config', file], env);
  t.same(JSON.parse(dry.out), { count: 1, dryRun: true });
  t.equal((await runCli(['spool', 'pause', '/nope', '--config', file], env)).code, 2, 'an unknown route is refused');
  t.equal((await runCli(['spool', 'pause', '/gh', '--config', file], env)).code, 0);
  t.match((await runCli(['spool', 'stats', '--config', file], env)).out, /paused: \/gh/);
  const replay = await runCli(['spool', 'replay', id!, '--config', file], env);
  t.equal(replay.code, 0, replay.err);

  status = 200;
  gw = await start();
  t.teardown(() => gw.close());
  await sleep(300);
  t.equal(up.received.length, 2, 'paused: the replay waits');
  t.equal((await runCli(['spool', 'resume', '/gh', '--config', file], env)).code, 0);
  await until('replayed', () => up.received.length === 3);
  t.equal(up.received[2]!.headers['hookgate-delivery'], 'replay');
  t.equal(up.received[2]!.body.toString(), body);
  t.equal((await runCli(['spool', 'frobnicate', '--config', file], env)).code, 2);
  const check = await runCli(['check', '--config', file], env);
  t.match(check.out, /\/gh .* delivery=spool \(acceptStatus 200, concurrency 4, 1 retries, resign on\)/, 'check shows the route spools');
  t.equal((await runCli(['spool', 'cancel', id!, '--config', file], env)).code, 1, 'a delivered one cannot be cancelled');
});

t.test('ls pages: --limit 10, then --cursor from the "next:" line, each delivery once while new ones arrive; replay --per-second', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-cli-pages-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, `upstream: { url: "${up.url}" }
ledger: { url: "embedded:${join(dir, 'ledger.db')}" }
routes:
  - { path: /gh, provider: github, tenant: acme, secrets: [env:GH], delivery: spool }
`);
  const env = { GH: SECRET };
  const { config } = loadConfigFile(file, env);
  const ledger = await openLedger({ url: config.ledger.url, retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: 10, migrate: true, synchronous: 'full' });
  const gw = await startTestGateway(config, { ledger, spoolPollMs: 50 });
  t.teardown(() => gw.close());
  const send = async (body: string) => {
    const res = await request(`${gw.url}/gh`, { method: 'POST', headers: { 'x-hub-signature-256': await sign(SECRET, body), 'content-type': 'application/json' }, body });
    await res.body.dump();
    t.equal(res.headers['hookgate-outcome'], 'spooled');
  };
  for (let i = 0; i < 25; i++) await send(JSON.stringify({ n: i }));

  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const ls = await runCli(['spool', 'ls', '--limit', '10', ...(cursor ? ['--cursor', cursor] : []), '--config', file], env);
    t.equal(ls.code, 0, ls.err);
    const lines = ls.out.trim().split('\n');
    const next = lines.at(-1)!.startsWith('next: ') ? lines.pop()!.slice('next: --cursor '.length) : undefined;
    ids.push(...lines.map((l) => l.split('\t')[0]!));
    cursor = next;
    pages++;
    await send(JSON.stringify({ meanwhile: pages }));
  } while (cursor && pages < 10);
  t.equal(pages, 3, '10 + 10 + 5');
  t.equal(ids.length, 25);
  t.equal(new Set(ids).size, 25, 'each exactly once');
  t.equal((await runCli(['spool', 'ls', '--cursor', 'bogus', '--config', file], env)).code, 2, 'a made-up cursor is a usage error');

  const end = Date.now() + 20_000;
  while ((await gw.spool!.store.list({ state: 'delivered', limit: 100 })).length < 28 && Date.now() < end) await sleep(20);
  t.same(JSON.parse((await runCli(['spool', 'replay', '--state', 'delivered', '--per-second', '5', '--dry-run', '--config', file], env)).out), { count: 28, dryRun: true });
  t.equal((await runCli(['spool', 'replay', '--state', 'delivered', '--per-second', 'fast', '--config', file], env)).code, 2, '--per-second is checked');
});
