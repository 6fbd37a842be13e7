// A gateway killed with SIGKILL while its delivery is at the upstream leaves a claim in flight; after
// the lease, the provider's retry is taken over by another gateway (attempt 2). Nothing is lost.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { sign } from '@octokit/webhooks-methods';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { sleep } from '../helpers/ledger-backends.js';
import { openLedger } from '../../src/ledger/index.js';

t.test('a claim whose gateway was SIGKILLed is taken over after the lease', async (t) => {
  let hold = true;
  const up = await startUpstream(async (_r, res) => {
    if (hold) return; // the first forward never gets an answer: the gateway dies holding the claim
    res.end('processed');
  });
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-crash-'));
  const ledgerUrl = `embedded:${join(dir, 'ledger.db')}`;
  const file = join(dir, 'hookgate.yaml');
  writeFileSync(file, `listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstream: { url: "${up.url}", timeout: 60s }\nledger: { url: "${ledgerUrl}", lease: 1s }\nroutes:\n  - { path: /gh, provider: github, tenant: acme, secrets: [env:GH] }\n`);

  const child = spawn(process.execPath, ['bin/hookgate.js', 'run', '--config', file], { env: { ...process.env, GH: 'crash-secret' }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void child.kill('SIGKILL'));
  const traffic = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`gateway exited ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /"traffic":"([^"]+)"/.exec(line);
      if (m) resolve(m[1]!);
    });
  });

  const body = '{"action":"opened","number":7}';
  const headers = { 'x-hub-signature-256': await sign('crash-secret', body), 'content-type': 'application/json' };
  request(`${traffic}/gh`, { method: 'POST', headers, body }).catch(() => undefined);
  for (let i = 0; i < 200 && up.received.length === 0; i++) await sleep(25);
  t.equal(up.received.length, 1, 'the first forward reached the upstream');
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  hold = false;

  const ledger = await openLedger({ url: ledgerUrl, retentionMs: 3_600_000, leaseMs: 1_000, cache: 100, migrate: true });
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url }, ledger: { lease: '1s' }, routes: [{ path: '/gh', provider: 'github', tenant: 'acme', secrets: ['env:GH'] }] }, { GH: 'crash-secret' }), { ledger });
  t.teardown(() => gw.close());

  // The provider retries: in flight while the dead gateway's lease lives, then taken over.
  const seen: string[] = [];
  let last;
  for (let i = 0; i < 100; i++) {
    last = await request(`${gw.url}/gh`, { method: 'POST', headers, body });
    seen.push(String(last.headers['hookgate-outcome']));
    await last.body.dump();
    if (last.statusCode !== 409) break;
    await sleep(100);
  }
  t.equal(last!.statusCode, 200);
  t.equal(last!.headers['hookgate-outcome'], 'forwarded');
  t.ok(seen.slice(0, -1).every((o) => o === 'in_flight'), 'only in_flight before the takeover');
  t.equal(up.received.length, 2, 'delivered again after the crash: not lost');
  t.equal(up.received[1]!.headers['hookgate-attempt'], '2');
  const again = await request(`${gw.url}/gh`, { method: 'POST', headers, body });
  t.equal(again.headers['hookgate-outcome'], 'duplicate');
  await again.body.dump();
  t.equal(up.received.length, 2);
});
