import t from 'tap';
import { createHmac } from 'node:crypto';
import { BODY, NOW, SECRET, runCommonCases, verify } from './harness.js';

// no official signer exists (@slack/bolt only verifies and is not a dependency): node:crypto, per Slack's docs
const slackSign = (secret: string, ts: number, body: Buffer) =>
  'v0=' + createHmac('sha256', secret).update(`v0:${ts}:`).update(body).digest('hex');
const EVENT = Buffer.from('{"token":"x","team_id":"T1","type":"event_callback","event_id":"Ev08MFMKH6","event":{"type":"app_mention"}}');

runCommonCases(t, {
  name: 'slack',
  other: 'other_secret',
  signer: 'node:crypto (Slack has no signer)',
  sign: (secret, ts) => ({ headers: { 'X-Slack-Signature': slackSign(secret, ts, EVENT), 'X-Slack-Request-Timestamp': String(ts) }, body: EVENT }),
  header: 'x-slack-signature',
  timestamped: true,
  id: 'Ev08MFMKH6',
});

t.test("slack: the published vector of Slack's docs (a slash-command form body) verifies, with no id", async (t) => {
  const body = Buffer.from('token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c');
  const v = verify('slack', ['8f742231b10e8888abcd99yyyzzz85a5'], {
    headers: { 'x-slack-signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503', 'x-slack-request-timestamp': '1531420618' },
    body,
  }, 1531420618_000);
  t.same(v, { ok: true, secretIndex: 0, timestamp: 1531420618_000 });
});

t.test('slack: the self-computed fixture of providers.md §5.2 verifies', async (t) => {
  const v = verify('slack', [SECRET], { headers: { 'x-slack-signature': 'v0=98b305a3324f792a819e4f2e14288da0cd5b627cb9ce9eb039dd25c437ee4d7c', 'x-slack-request-timestamp': '1700000000' }, body: BODY });
  t.same(v, { ok: true, secretIndex: 0, timestamp: NOW });
});

t.test('slack: the url_verification handshake arrives signed and verifies like any delivery', async (t) => {
  const body = Buffer.from('{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}');
  const v = verify('slack', [SECRET], { headers: { 'x-slack-signature': slackSign(SECRET, 1700000000, body), 'x-slack-request-timestamp': '1700000000' }, body });
  t.same(v, { ok: true, secretIndex: 0, timestamp: NOW });
});

t.test('slack: a missing or garbled timestamp header is malformed', async (t) => {
  const sig = slackSign(SECRET, 1700000000, EVENT);
  const a = verify('slack', [SECRET], { headers: { 'x-slack-signature': sig }, body: EVENT });
  const b = verify('slack', [SECRET], { headers: { 'x-slack-signature': sig, 'x-slack-request-timestamp': '17e8' }, body: EVENT });
  t.equal(!a.ok && a.code, 'malformed');
  t.equal(!b.ok && b.code, 'malformed');
});
