// Handshakes stay synchronous on a spool route: the provider gets the application's own answer.
import t from 'tap';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { sleep } from '../helpers/ledger-backends.js';
import { openLedger } from '../../src/ledger/index.js';
import { isHandshake } from '../../src/spool/handshake.js';

const SECRET = 'slack-signing-secret-spool';
// no official signer exists (@slack/bolt only verifies and is not a dependency): node:crypto, per Slack's docs
const slackSign = (ts: number, body: string) => 'v0=' + createHmac('sha256', SECRET).update(`v0:${ts}:${body}`).digest('hex');

t.test('isHandshake: Slack url_verification, Zoom endpoint.url_validation, Twitch callback verification; nothing else', async (t) => {
  t.ok(isHandshake('slack', {}, Buffer.from('{"type":"url_verification","challenge":"c"}')));
  t.notOk(isHandshake('slack', {}, Buffer.from('{"type":"event_callback"}')));
  t.notOk(isHandshake('slack', {}, Buffer.from('type=url_verification')));
  t.ok(isHandshake('zoom', {}, Buffer.from('{"event":"endpoint.url_validation","payload":{"plainToken":"p"}}')));
  t.notOk(isHandshake('zoom', {}, Buffer.from('{"event":"meeting.started"}')));
  t.ok(isHandshake('twitch', { 'twitch-eventsub-message-type': 'webhook_callback_verification' }, Buffer.from('{}')));
  t.notOk(isHandshake('twitch', { 'twitch-eventsub-message-type': 'notification' }, Buffer.from('{}')));
  t.notOk(isHandshake('github', {}, Buffer.from('{"type":"url_verification"}')));
});

t.test('a Slack route with delivery: spool answers url_verification with the application\'s challenge, spools events', async (t) => {
  const up = await startUpstream((r, res) => {
    const body = JSON.parse(r.body.toString());
    res.setHeader('content-type', 'application/json');
    res.end(body.type === 'url_verification' ? JSON.stringify({ challenge: body.challenge }) : '{}');
  });
  t.teardown(() => up.close());
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-hs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = testConfig({ upstream: { url: up.url }, ledger: { url: `embedded:${join(dir, 'l.db')}` }, routes: [{ path: '/slack', provider: 'slack', tenant: 'acme', secrets: ['env:S'], delivery: 'spool' }] }, { S: SECRET });
  const ledger = await openLedger({ url: config.ledger.url, retentionMs: config.ledger.retentionMs, leaseMs: config.ledger.leaseMs, cache: 10, migrate: true });
  const gw = await startTestGateway(config, { ledger, spoolPollMs: 50 });
  t.teardown(() => gw.close());
  const post = async (body: string) => {
    const ts = Math.floor(Date.now() / 1000);
    const res = await request(`${gw.url}/slack`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-slack-signature': slackSign(ts, body), 'x-slack-request-timestamp': String(ts) }, body });
    return { status: res.statusCode, outcome: res.headers['hookgate-outcome'], text: await res.body.text() };
  };
  const hs = await post('{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}');
  t.same([hs.status, hs.outcome], [200, 'forwarded']);
  t.same(JSON.parse(hs.text), { challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' }, 'the application\'s answer reaches Slack');
  t.equal((await gw.spool!.store.list({})).length, 0, 'the handshake is not stored');
  const ev = await post('{"token":"x","team_id":"T1","type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}');
  t.same([ev.status, ev.outcome], [200, 'spooled']);
  for (let i = 0; i < 200 && up.received.length < 2; i++) await sleep(20);
  t.equal(up.received.length, 2);
});
