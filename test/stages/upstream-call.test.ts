// The forward's call to the upstream against a real node:http server: a small answer as one buffer,
// a large or slow one as a stream that holds the socket back while nobody reads it, failures before
// and during the answer, and a reader that goes away. `done` is called exactly once each time.
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { once } from 'node:events';
import { Pool } from '../../src/stages/upstream-pool.js';
import { callUpstream, discard, type UpstreamAnswer } from '../../src/stages/upstream-call.js';

async function upstream(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pool = new Pool(origin, { keepAliveTimeout: 4_000 });
  return {
    pool,
    close: async () => {
      await pool.destroy();
      server.closeAllConnections();
      server.close();
    },
  };
}

const call = (pool: Pool, extra: { headersTimeout?: number } = {}) => {
  let done = 0;
  const answer = callUpstream(pool, { path: '/x', method: 'POST', headers: ['content-type', 'text/plain'], body: Buffer.from('hi'), headersTimeout: 5_000, bodyTimeout: 5_000, ...extra }, () => done++);
  return { answer, done: () => done };
};

async function readAll(body: Buffer | Readable | null): Promise<Buffer> {
  if (body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const until = async (f: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  return f();
};

t.test('a small answer: its status, its headers as undici parses them, its body as one buffer', async (t) => {
  const up = await upstream((req, res) => {
    req.resume();
    res.setHeader('set-cookie', ['a=1', 'b=2']);
    res.setHeader('X-App', 'yes');
    res.statusCode = 201;
    res.end('{"ok":true}');
  });
  t.teardown(up.close);
  const c = call(up.pool);
  const a = await c.answer;
  t.equal(a.statusCode, 201);
  t.same(a.headers['set-cookie'], ['a=1', 'b=2']);
  t.equal(a.headers['x-app'], 'yes');
  t.ok(await until(() => c.done() === 1), 'done once the answer ended');
  const body = a.body();
  t.ok(Buffer.isBuffer(body), 'one buffer');
  t.equal(String(body), '{"ok":true}');
  t.equal(c.done(), 1);
});

t.test('an empty answer (204) is null', async (t) => {
  const up = await upstream((req, res) => {
    req.resume();
    res.statusCode = req.url === '/x' ? 204 : 200;
    res.end();
  });
  t.teardown(up.close);
  const a = await call(up.pool).answer;
  t.equal(a.statusCode, 204);
  await until(() => false, 50);
  t.equal(a.body(), null);
});

t.test('an interim 1xx is not the answer', async (t) => {
  const up = await upstream((req, res) => {
    req.resume();
    res.writeEarlyHints({ link: '</style.css>; rel=preload' });
    res.end('after the hints');
  });
  t.teardown(up.close);
  const a = await call(up.pool).answer;
  t.equal(a.statusCode, 200);
  t.equal(String(await readAll(a.body())), 'after the hints');
});

t.test('a large answer nobody reads yet holds the upstream back, then streams whole', async (t) => {
  const SIZE = 48 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 7);
  let written = 0;
  const up = await upstream((req, res) => {
    req.resume();
    res.setHeader('content-length', SIZE);
    const more = () => {
      while (written < SIZE) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  t.teardown(up.close);
  const c = call(up.pool);
  const a = await c.answer;
  const body = a.body();
  t.ok(body instanceof Readable, 'a stream: the answer is still arriving');
  // nobody reads for a while: what the upstream got to write is bounded by socket buffers, not by the answer
  await new Promise((r) => setTimeout(r, 300));
  t.ok(written < SIZE / 2, `the upstream wrote ${written} bytes of ${SIZE} while nobody read`);
  t.equal(c.done(), 0, 'not done while the answer is arriving');
  const all = await readAll(body);
  t.equal(all.length, SIZE, 'every byte');
  t.ok(all.every((b) => b === 7));
  t.ok(await until(() => c.done() === 1), 'done once');
});

/** An upstream that sends 10 kB of a declared 1 MB answer, then drops the connection after `ms`. */
const breakingOff = (ms: number) => upstream((req, res) => {
  req.resume();
  res.setHeader('content-length', 1_000_000);
  res.write(Buffer.alloc(10_000, 1));
  setTimeout(() => res.socket!.destroy(), ms);
});

t.test('an answer that breaks off fails its stream, and is done once', async (t) => {
  const up = await breakingOff(50);
  t.teardown(up.close);
  const c = call(up.pool);
  const a = await c.answer;
  const body = a.body();
  await t.rejects(readAll(body), 'the stream fails');
  t.ok(await until(() => c.done() === 1), 'done once');
  await until(() => false, 50);
  t.equal(c.done(), 1);
});

t.test('an answer that broke off before anyone asked for it: its stream fails at once', async (t) => {
  const up = await breakingOff(20);
  t.teardown(up.close);
  const c = call(up.pool);
  const a: UpstreamAnswer = await c.answer;
  t.ok(await until(() => c.done() === 1), 'done when it broke off');
  await t.rejects(readAll(a.body()));
  t.equal(c.done(), 1);
});

t.test('a reader that goes away stops the answer at the upstream', async (t) => {
  let closed = false;
  const up = await upstream((req, res) => {
    req.resume();
    res.setHeader('content-length', 10_000_000);
    res.write(Buffer.alloc(1_000, 1));
    res.on('close', () => (closed = true));
  });
  t.teardown(up.close);
  const c = call(up.pool);
  const body = (await c.answer).body() as Readable;
  t.ok(body instanceof Readable);
  body.destroy();
  t.ok(await until(() => closed), 'the upstream saw its answer cut off');
  t.equal(c.done(), 1, 'done once');
});

t.test('no answer: undici\'s error, and done once', async (t) => {
  const up = await upstream((req) => req.resume());
  t.teardown(up.close);
  const c = call(up.pool, { headersTimeout: 200 });
  await t.rejects(c.answer, { code: 'UND_ERR_HEADERS_TIMEOUT' });
  t.equal(c.done(), 1);
  const refused = new Pool('http://127.0.0.1:1', {});
  t.teardown(() => refused.destroy());
  const r = call(refused);
  await t.rejects(r.answer, { code: 'ECONNREFUSED' });
  t.equal(r.done(), 1);
});

t.test('discard: the rest of a short answer is read and the connection reused; a long one is cut off', async (t) => {
  let sockets = 0;
  let cutOff = false;
  const up = await upstream((req, res) => {
    req.resume();
    if (req.headers['x-size'] === 'long') {
      res.setHeader('content-length', 50_000_000);
      res.on('close', () => (cutOff = !res.writableFinished));
      const chunk = Buffer.alloc(64 * 1024, 2);
      const more = () => {
        while (res.write(chunk)) if (res.destroyed) return;
        res.once('drain', more);
      };
      return more();
    }
    // a short answer, still arriving when it is discarded
    res.write(Buffer.alloc(1_000, 1));
    setTimeout(() => res.end(Buffer.alloc(50_000, 1)), 30);
  });
  up.pool.on('connect', () => sockets++);
  t.teardown(up.close);
  const ask = (size: string) => callUpstream(up.pool, { path: '/x', method: 'POST', headers: ['x-size', size], body: Buffer.from('hi'), headersTimeout: 5_000, bodyTimeout: 5_000 }, () => undefined);
  // (undici hands the socket back a moment after the answer's end, as after its own dump())
  await discard(await ask('short'));
  await new Promise((r) => setImmediate(r));
  await discard(await ask('short'));
  t.equal(sockets, 1, `both answers read to their end on one connection (${sockets} connections)`);
  await discard(await ask('long'));
  t.ok(await until(() => cutOff), 'a 50 MB answer is cut off, not read');
});
