// The hot LRU on its own, over a scripted ledger: what it caches and what it never does.
import t from 'tap';
import { CachedLedger } from '../../src/ledger/cached.js';
import type { ClaimResult, Ledger } from '../../src/ledger/types.js';

function scripted(answers: ClaimResult[], completeOk = true) {
  const calls: string[] = [];
  const inner: Ledger = {
    backend: 'embedded',
    async claim(k) { calls.push(`claim ${k}`); return answers.shift() ?? { state: 'in_flight', retryAfterMs: 1 }; },
    async complete(k) { calls.push(`complete ${k}`); return completeOk; },
    async release(k) { calls.push(`release ${k}`); return true; },
    async ping() {},
    async close() { calls.push('close'); },
  };
  return { inner, calls };
}

t.test('a done answer from the database is cached; in flight and claimed never are', async (t) => {
  const { inner, calls } = scripted([
    { state: 'in_flight', retryAfterMs: 10 },
    { state: 'claimed', token: 'x', attempt: 1 },
    { state: 'done', status: 201, expiresInMs: 60_000 },
  ]);
  let hits = 0;
  const l = new CachedLedger(inner, 10, 60_000, { onCacheHit: () => hits++ });
  t.equal((await l.claim('k')).state, 'in_flight');
  t.equal((await l.claim('k')).state, 'claimed', 'in flight was not cached');
  t.equal((await l.claim('k')).state, 'done', 'claimed was not cached');
  t.same(await l.claim('k'), { state: 'done', status: 201 }, 'done is cached');
  t.equal(calls.length, 3);
  t.equal(hits, 1);
});

t.test('cached(key) answers a done key synchronously and counts the hit; anything else is undefined', async (t) => {
  const { inner, calls } = scripted([{ state: 'claimed', token: 'x', attempt: 1 }]);
  let hits = 0;
  const l = new CachedLedger(inner, 10, 60_000, { onCacheHit: () => hits++ });
  t.equal(l.cached('k'), undefined, 'unknown key');
  await l.claim('k');
  t.equal(l.cached('k'), undefined, 'claimed (in flight) is not cached');
  await l.complete('k', 'x', 202);
  t.same(l.cached('k'), { state: 'done', status: 202 });
  t.equal(hits, 1);
  t.same(calls, ['claim k', 'complete k'], 'the ledger was not asked');
  t.equal(new CachedLedger(inner, 0, 60_000).cached('k'), undefined, 'no LRU (cache: 0): always undefined');
});

t.test('a complete is cached only when the ledger accepted it', async (t) => {
  const ok = scripted([]);
  const a = new CachedLedger(ok.inner, 10, 60_000);
  await a.complete('k', 'tok', 200);
  t.same(await a.claim('k'), { state: 'done', status: 200 });
  t.same(ok.calls, ['complete k']);

  const fenced = scripted([{ state: 'in_flight', retryAfterMs: 5 }], false);
  const b = new CachedLedger(fenced.inner, 10, 60_000);
  await b.complete('k', 'stale', 200);
  t.equal((await b.claim('k')).state, 'in_flight', 'a fenced-out complete is not remembered');
});

t.test('entries live no longer than the ledger remembers the key', async (t) => {
  const { inner, calls } = scripted([{ state: 'done', status: 200, expiresInMs: 30 }, { state: 'claimed', token: 'n', attempt: 1 }]);
  const l = new CachedLedger(inner, 10, 60_000);
  const expiresAt = Date.now() + 30;
  t.equal((await l.claim('k')).state, 'done');
  while (Date.now() <= expiresAt + 1) await new Promise((r) => setTimeout(r, 5)); // until the row's expiry has passed
  t.equal((await l.claim('k')).state, 'claimed', 'expired from the LRU with the row');
  t.equal(calls.length, 2);
});

t.test('the LRU is bounded by `cache` entries', async (t) => {
  const { inner } = scripted([]);
  const l = new CachedLedger(inner, 3, 60_000);
  for (const k of ['a', 'b', 'c', 'd', 'e']) await l.complete(k, 't', 200);
  t.equal(l.size, 3);
});

t.test('the LRU is made once for `cache` entries and keeps each entry\'s order of use and time left', async (t) => {
  // 1 s: long enough to outlast the fill below on a loaded machine, short enough to wait out
  const { inner } = scripted([{ state: 'done', status: 201, expiresInMs: 1000 }]);
  const l = new CachedLedger(inner, 1500, 60_000);
  const max = () => (l as unknown as { done: { capacity: number } }).done.capacity;
  t.equal(max(), 1500, 'room for `cache` entries from the start');
  t.equal((await l.claim('short')).state, 'done', 'a key the database remembers for 1 s more');
  const expiresAt = Date.now() + 1000;
  for (let i = 0; i < 1023; i++) await l.complete(`k${i}`, 't', 200);
  t.equal(l.size, 1024);
  t.match(l.cached('k0'), { state: 'done', status: 200 }, 'k0 used again: now the most recent');
  const left = (l as unknown as { done: { remainingMs(k: string): number } }).done.remainingMs('short');
  t.ok(left > 0 && left <= 1001, `a key from the database keeps its time left (${left} ms)…`);
  while (Date.now() <= expiresAt + 20) await new Promise((r) => setTimeout(r, 5));
  t.equal(l.cached('short'), undefined, '…and expires when the ledger forgets it');
  for (let i = 1023; i < 1500; i++) await l.complete(`k${i}`, 't', 200);
  t.equal(l.size, 1500, 'k0..k1499');
  await l.complete('over', 't', 200);
  t.equal(l.size, 1500, 'bounded by `cache`');
  t.equal(l.cached('k1'), undefined, 'the least recently used went first…');
  t.match(l.cached('k0'), { state: 'done' }, '…not k0, used after it');
});

t.test('a time left under a millisecond still expires', async (t) => {
  const { inner } = scripted([{ state: 'done', status: 200, expiresInMs: 0.4 }, { state: 'claimed', token: 'n', attempt: 1 }]);
  const l = new CachedLedger(inner, 10, 60_000);
  t.equal((await l.claim('k')).state, 'done');
  await new Promise((r) => setTimeout(r, 20));
  t.equal(l.cached('k'), undefined, 'expired');
  t.equal((await l.claim('k')).state, 'claimed', 'asked the ledger again');
});
