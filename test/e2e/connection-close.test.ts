// Answers made before the body is read close the connection (issue 13): otherwise Node reads and
// discards whatever the client keeps sending (an endless chunked body: 59 MB in 3 s), on one socket,
// for as long as it likes. Each case streams a chunked body without end and checks that the gateway
// hung up within a bounded number of bytes.
import t, { type Test } from 'tap';
import { connect } from 'node:net';
import { startUpstream } from '../helpers/upstream.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { startLimitedGateway } from '../helpers/limits.js';

const GH = 'connection-close-secret';
const ROUTES = [{ path: '/webhooks/github', provider: 'github', tenant: 'acme', secrets: ['env:GH'], bodyLimit: '1kb' }];
/** Far beyond any socket buffer: a server still reading at this point is consuming the stream. */
const BOUND = 32 * 1024 * 1024;

interface Streamed {
  answer: string;
  written: number;
  hungUp: boolean;
}

/** Sends the head, then chunks until the server hangs up or BOUND bytes went out. */
function streamEndlessly(url: string, head: string): Promise<Streamed> {
  const { hostname, port } = new URL(url);
  const chunk = Buffer.from(`10000\r\n${'x'.repeat(0x10000)}\r\n`);
  return new Promise((resolve) => {
    let answer = '';
    let written = 0;
    let over = false;
    let wake: (() => void) | null = null;
    const s = connect(Number(port), hostname);
    const finish = (hungUp: boolean) => {
      if (over) return;
      over = true;
      wake?.();
      s.destroy();
      resolve({ answer, written, hungUp });
    };
    s.on('data', (c) => (answer += c.toString()));
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    s.on('drain', () => wake?.());
    // A deadline, not a timing assertion: a server that stops reading but never hangs up fails here.
    s.setTimeout(5_000, () => finish(false));
    s.on('connect', async () => {
      s.write(head);
      while (!over) {
        if (written >= BOUND) return finish(false);
        written += chunk.length;
        if (!s.write(chunk)) await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    });
  });
}

const chunkedHead = (method: string, path: string, extra = '') => `${method} ${path} HTTP/1.1\r\nHost: x\r\n${extra}transfer-encoding: chunked\r\n\r\n`;

function hungUpAfter(t: Test, r: Streamed, status: number, code: string): void {
  t.ok(r.hungUp, `the gateway hung up (after ${r.written} bytes written)`);
  t.ok(r.written < BOUND, 'it did not keep consuming the body');
  t.match(r.answer, new RegExp(`^HTTP/1\\.1 ${status} `), `answered ${status}`);
  t.match(r.answer.toLowerCase(), `hookgate-outcome: ${code}`);
  t.match(r.answer.toLowerCase(), 'connection: close');
}

t.test('405 before the body: the connection is closed', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url }, routes: ROUTES }, { GH }));
  t.teardown(() => gw.close());
  hungUpAfter(t, await streamEndlessly(gw.url, chunkedHead('PUT', '/webhooks/github')), 405, 'method_not_allowed');
  t.equal(up.received.length, 0);
});

/** A gateway limited to 1 request a minute per address, whose one request this address has spent. */
async function overTheLimit(t: Test) {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const lg = await startLimitedGateway(testConfig({ upstream: { url: up.url }, limits: { unverified: '1/m' }, routes: ROUTES }, { GH }));
  t.teardown(() => lg.close());
  const { request } = await import('undici');
  const first = await request(`${lg.gw.url}/webhooks/github`, { method: 'POST', body: '{}' });
  t.equal(first.statusCode, 401, 'the first request spends the quota');
  await first.body.dump();
  return { up, url: lg.gw.url };
}

t.test('429 before the body: the connection is closed', async (t) => {
  const { url } = await overTheLimit(t);
  hungUpAfter(t, await streamEndlessly(url, chunkedHead('POST', '/webhooks/github')), 429, 'rate_limited');
});

t.test('413 past the body limit: the connection is closed', async (t) => {
  const up = await startUpstream();
  t.teardown(() => up.close());
  const gw = await startTestGateway(testConfig({ upstream: { url: up.url }, routes: ROUTES }, { GH }));
  t.teardown(() => gw.close());
  hungUpAfter(t, await streamEndlessly(gw.url, chunkedHead('POST', '/webhooks/github')), 413, 'body_too_large');
});

t.test('404 on no route (reject) and a refused near miss (forward): the connection is closed', async (t) => {
  for (const unmatched of ['reject', 'forward']) {
    const up = await startUpstream();
    t.teardown(() => up.close());
    const gw = await startTestGateway(testConfig({ upstream: { url: up.url, unmatched }, routes: ROUTES }, { GH }));
    t.teardown(() => gw.close());
    const path = unmatched === 'reject' ? '/nowhere' : '/webhooks/github/';
    hungUpAfter(t, await streamEndlessly(gw.url, chunkedHead('POST', path, 'content-type: application/octet-stream\r\n')), 404, 'no_route');
    t.equal(up.received.length, 0);
  }
});

/** Two requests on one socket, one after the other's answer; returns both raw answers and whether the socket stayed open between them. */
async function twoOnOneSocket(url: string, request: string): Promise<{ answers: string[]; closedAfterFirst: boolean }> {
  const { hostname, port } = new URL(url);
  const s = connect(Number(port), hostname);
  let buf = '';
  let closed = false;
  s.on('data', (c) => (buf += c.toString()));
  s.on('close', () => (closed = true));
  s.on('error', () => (closed = true));
  await new Promise<void>((r) => s.once('connect', () => r()));
  const answered = async (n: number) => {
    // a deadline, not a timing assertion: fails the test instead of hanging it
    for (let i = 0; i < 500 && (buf.match(/HTTP\/1\.1 \d{3} /g) ?? []).length < n && !closed; i++) await new Promise((r) => setTimeout(r, 10));
  };
  s.write(request);
  await answered(1);
  await new Promise((r) => setTimeout(r, 50));
  const closedAfterFirst = closed;
  if (!closed) s.write(request);
  await answered(2);
  s.destroy();
  return { answers: buf.split(/(?=HTTP\/1\.1 \d{3} )/).filter(Boolean), closedAfterFirst };
}

t.test('429 before a small body of declared length: the body is discarded and the connection kept (a flood on keep-alive costs no reconnects); a large declared length is still hung up on', async (t) => {
  const { up, url } = await overTheLimit(t);
  const body = `{"pad":"${'x'.repeat(2000)}"}`;
  const small = await twoOnOneSocket(url, `POST /webhooks/github HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
  t.notOk(small.closedAfterFirst, 'the connection stayed open');
  t.equal(small.answers.length, 2, 'both requests answered on it');
  for (const a of small.answers) {
    t.match(a, /^HTTP\/1\.1 429 /);
    t.notMatch(a.toLowerCase(), 'connection: close');
  }
  t.equal(up.received.length, 0, 'nothing forwarded');
  const big = await twoOnOneSocket(url, `POST /webhooks/github HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${64 * 1024 + 1}\r\n\r\n{}`);
  t.ok(big.closedAfterFirst, 'a declared length over 64 KiB: hung up');
  t.match(big.answers[0]!, /^HTTP\/1\.1 429 [^]*connection: close/i);
});
