// The Map engine of `embedded` in memory (issue 16): the ledger suite every backend passes, the SQLite
// engine as an oracle for random operation sequences, and what is particular to it (its sweep, its
// synchronous answers, the engine switch).
import t from 'tap';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { ledgerSuite } from '../helpers/ledger-suite.js';
import { BASE_OPTIONS, mapCluster, newKey } from '../helpers/ledger-backends.js';
import { CachedLedger, memoryEngine, openLedger } from '../../src/ledger/index.js';
import { MapLedger, openMapLedger } from '../../src/ledger/memory.js';
import { KeyTable } from '../../src/ledger/key-table.js';
import { EmbeddedLedger } from '../../src/ledger/embedded.js';
import { migrateSqlite } from '../../src/ledger/migrations.js';
import { keyHash } from '../../src/ledger/common.js';
import type { ClaimResult, LedgerOptions } from '../../src/ledger/types.js';

t.test('the ledger suite', async (t) => {
  ledgerSuite(t, async () => mapCluster());
});

// --- the SQLite engine as the oracle -------------------------------------------------------------

type Cmd =
  | { op: 'claim'; k: number }
  | { op: 'complete'; k: number; tok: number; status: number }
  | { op: 'release'; k: number; tok: number }
  | { op: 'advance'; ms: number }
  | { op: 'sweep' };

const LEASE = 1000;
const RETENTION = 5000;
const KEYS = 4;

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('claim' as const), k: fc.nat(KEYS - 1) }) },
  // tok: an index into the tokens claims handed out so far (taken modulo their number); -1 a token never issued
  { weight: 3, arbitrary: fc.record({ op: fc.constant('complete' as const), k: fc.nat(KEYS - 1), tok: fc.integer({ min: -1, max: 20 }), status: fc.constantFrom(200, 202, 404, 500) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('release' as const), k: fc.nat(KEYS - 1), tok: fc.integer({ min: -1, max: 20 }) }) },
  // around the lease and the retention, their edges included (an expiry at exactly `now` is expired)
  { weight: 3, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.oneof(fc.integer({ min: 0, max: 2 * LEASE }), fc.constantFrom(LEASE, RETENTION, RETENTION - 1), fc.integer({ min: 0, max: 2 * RETENTION })) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'sweep' as const }) },
);

/** A claim's answer with its token replaced by its issue number (the engines draw different UUIDs). */
function normal(r: ClaimResult, tokens: string[]): unknown {
  if (r.state !== 'claimed') return r;
  tokens.push(r.token);
  return { state: 'claimed', attempt: r.attempt, token: tokens.length - 1 };
}

/** Runs `cmds` on both engines; returns the first disagreement, or undefined when they agree throughout. */
async function both(cmds: Cmd[]): Promise<string | undefined> {
  let now = 1_700_000_000_000;
  const clock = () => now;
  const opts: LedgerOptions = { ...BASE_OPTIONS, leaseMs: LEASE, retentionMs: RETENTION, cache: 0 };
  const db = new Database(':memory:');
  migrateSqlite(db);
  // batch `off`: each operation runs at its call, as the Map engine's do
  const sqlite = new EmbeddedLedger(db, opts, undefined, clock, 'off');
  const map = new MapLedger(opts, new KeyTable(), clock);
  const keys = Array.from({ length: KEYS }, (_, i) => `prop:${i}`);
  const tokens: [string[], string[]] = [[], []];
  const token = (side: 0 | 1, tok: number) => (tok < 0 || tokens[side].length === 0 ? '00000000-0000-4000-8000-000000000000' : tokens[side][tok % tokens[side].length]!);
  try {
    for (const [i, c] of cmds.entries()) {
      // The oracle's sweeper runs before each operation: SQLite answers complete/release on an
      // expired row only until its sweeper deletes it, and the Map engine is always swept.
      await sqlite.sweep();
      let a: unknown;
      let b: unknown;
      switch (c.op) {
        case 'claim':
          a = normal(await sqlite.claim(keys[c.k]!), tokens[0]);
          b = normal(await map.claim(keys[c.k]!), tokens[1]);
          break;
        case 'complete':
          a = await sqlite.complete(keys[c.k]!, token(0, c.tok), c.status);
          b = await map.complete(keys[c.k]!, token(1, c.tok), c.status);
          break;
        case 'release':
          a = await sqlite.release(keys[c.k]!, token(0, c.tok));
          b = await map.release(keys[c.k]!, token(1, c.tok));
          break;
        case 'advance':
          now += c.ms;
          break;
        case 'sweep':
          a = await sqlite.sweep();
          b = await map.sweep();
          // the oracle swept before this step too: what expired since the last step is gone on both
          if (map.store.size !== live(db, now)) return `step ${i}: after a sweep the table holds ${map.store.size} keys, ${live(db, now)} are live`;
          a = b = undefined;
          break;
      }
      if (JSON.stringify(a) !== JSON.stringify(b)) {
        return `step ${i} ${JSON.stringify(c)}: sqlite ${JSON.stringify(a)}, map ${JSON.stringify(b)}`;
      }
      // and the tables agree on every live key: state, owner (by issue number), attempt, status, times
      for (const k of keys) {
        // the owner only while processing: a settled entry lets go of its token (nothing it can still do)
        const x = sqliteRow(db, k, now, tokens[0]);
        const e = map.store.live(k, now);
        const y = e && { status: e.status, owner: tokens[1].indexOf(e.owner), attempt: e.attempt, resp: e.status === 'done' ? e.respStatus : null, lease: e.leaseUntil, expires: e.expiresAt };
        if (JSON.stringify(x) !== JSON.stringify(y)) {
          return `after step ${i} ${JSON.stringify(c)}, key ${k}: sqlite ${JSON.stringify(x)}, map ${JSON.stringify(y)}`;
        }
      }
    }
    return undefined;
  } finally {
    await sqlite.close();
    await map.close();
  }
}

function sqliteRow(db: Database.Database, key: string, now: number, tokens: string[]) {
  const r = db.prepare('SELECT status, owner, attempt, resp_status, lease_until, expires_at FROM hookgate_ledger WHERE key_hash = ? AND expires_at > ?').get(keyHash(key), now) as
    | { status: string; owner: string; attempt: number; resp_status: number | null; lease_until: number; expires_at: number }
    | undefined;
  return r && { status: r.status, owner: r.status === 'processing' ? tokens.indexOf(r.owner) : -1, attempt: r.attempt, resp: r.resp_status, lease: r.lease_until, expires: r.expires_at };
}

function live(db: Database.Database, now: number): number {
  return (db.prepare('SELECT COUNT(*) AS n FROM hookgate_ledger WHERE expires_at > ?').get(now) as { n: number }).n;
}

t.test('random sequences of claim, complete, release, sweeps and clock steps: the same answers and rows as SQLite', async (t) => {
  // fast-check shrinks a disagreement to a shortest sequence and throws it, with the step that differed
  await fc.assert(
    fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 60 }), async (cmds) => {
      const diff = await both(cmds);
      if (diff) throw new Error(diff);
    }),
    { numRuns: 300 },
  );
  t.pass('300 sequences agreed');
});

t.test('a hand-written sequence through every transition agrees with SQLite', async (t) => {
  t.equal(await both([
    { op: 'claim', k: 0 }, { op: 'claim', k: 0 }, // claimed, in flight
    { op: 'release', k: 0, tok: 0 }, { op: 'claim', k: 0 }, // failed → takeover, attempt 2
    { op: 'complete', k: 0, tok: 0, status: 200 }, // the first token is fenced out
    { op: 'complete', k: 0, tok: 1, status: 201 }, { op: 'claim', k: 0 }, // done: 201
    { op: 'claim', k: 1 }, { op: 'advance', ms: LEASE }, { op: 'claim', k: 1 }, // lease ran out: takeover
    { op: 'advance', ms: RETENTION }, { op: 'claim', k: 0 }, // expired: attempt 1 again
    { op: 'complete', k: 1, tok: 3, status: 500 }, // its owner's complete, after the key expired: refused
    { op: 'sweep' },
  ]), undefined, 'no disagreement');
});

t.test('thousands of keys: the table grows, reuses freed entries and wraps its expiry queue, and still agrees with SQLite', async (t) => {
  // The random sequences above stay within the table's first 1,024 entries; this one doubles it
  // twice, frees entries to the sweep and reuses them, and wraps the queue, comparing every answer.
  let now = 1_700_000_000_000;
  const clock = () => now;
  const opts: LedgerOptions = { ...BASE_OPTIONS, leaseMs: 200, retentionMs: 6000, cache: 0 };
  const db = new Database(':memory:');
  migrateSqlite(db);
  const sqlite = new EmbeddedLedger(db, opts, undefined, clock, 'off');
  const map = new MapLedger(opts, new KeyTable(), clock);
  t.teardown(async () => { await sqlite.close(); await map.close(); });
  let seed = 7; // mulberry32: the same sequence every run
  const rand = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let z = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    z = (z + Math.imul(z ^ (z >>> 7), 61 | z)) ^ z;
    return ((z ^ (z >>> 14)) >>> 0) % n;
  };
  const tokens = new Map<string, [string, string]>(); // key → the tokens of its last claim on each side
  let peak = 0;
  let disagreements = 0;
  for (let step = 0; step < 20_000; step++) {
    const key = `k:${rand(8000)}`;
    const op = rand(10);
    await sqlite.sweep();
    let a: unknown;
    let b: unknown;
    if (op < 5) {
      const x = await sqlite.claim(key);
      const y = await map.claim(key);
      if (x.state === 'claimed' && y.state === 'claimed') tokens.set(key, [x.token, y.token]);
      a = x.state === 'claimed' ? { ...x, token: 0 } : x;
      b = y.state === 'claimed' ? { ...y, token: 0 } : y;
    } else {
      const tok = tokens.get(key) ?? ['none', 'none'];
      a = op < 9 ? await sqlite.complete(key, tok[0], 200 + op) : await sqlite.release(key, tok[0]);
      b = op < 9 ? await map.complete(key, tok[1], 200 + op) : await map.release(key, tok[1]);
    }
    if (JSON.stringify(a) !== JSON.stringify(b) && disagreements++ < 5) t.fail(`step ${step} (${op < 5 ? 'claim' : op < 9 ? 'complete' : 'release'} ${key}): sqlite ${JSON.stringify(a)}, map ${JSON.stringify(b)}`);
    peak = Math.max(peak, map.store.size);
    now += rand(3);
  }
  t.equal(disagreements, 0, '20,000 operations, the same answers');
  t.ok(peak > 2048, `the table held ${peak} keys at its peak: grown past 1,024 twice`);
  await sqlite.sweep();
  await map.sweep();
  t.equal(map.store.size, live(db, now), 'after a sweep, the same live keys');
  let rows = 0;
  for (let k = 0; k < 8000; k++) {
    const x = sqliteRow(db, `k:${k}`, now, []);
    const e = map.store.live(`k:${k}`, now);
    if (x) rows++;
    t.same(e && { status: e.status, attempt: e.attempt, resp: e.status === 'done' ? e.respStatus : null, lease: e.leaseUntil, expires: e.expiresAt }, x && { status: x.status, attempt: x.attempt, resp: x.resp, lease: x.lease, expires: x.expires }, `k:${k}`, { diagnostic: false });
  }
  t.ok(rows > 1000, `${rows} live rows compared`);
});

// --- particular to the Map engine ----------------------------------------------------------------

const opts = (o: Partial<LedgerOptions> = {}): LedgerOptions => ({ ...BASE_OPTIONS, leaseMs: 100, retentionMs: 1000, ...o });

t.test('writes sweep expired keys from the head as they go, a few each: the table stays bounded without a scan', async (t) => {
  let now = 0;
  const l = openMapLedger(opts(), () => now);
  t.teardown(() => l.close());
  for (let i = 0; i < 1000; i++) await l.claim(`old:${i}`);
  t.equal(l.store.size, 1000);
  now = 1000; // every old key expires exactly now
  await l.claim('new:0');
  t.equal(l.store.size, 1000 + 1 - 4, 'one write removed four expired keys, not all of them');
  for (let i = 1; i < 300; i++) await l.claim(`new:${i}`);
  t.equal(l.store.size, 300, 'within a few hundred writes only live keys are left');
  t.equal(l.store.live('old:999', now), undefined);
  t.match(l.store.live('new:0', now), { status: 'processing', attempt: 1, expiresAt: 2000 });
});

t.test('a complete moves its key behind the keys that expire first; the sweep stops at the first live key', async (t) => {
  let now = 0;
  const l = openMapLedger(opts(), () => now);
  t.teardown(() => l.close());
  const a = await l.claim('a');
  now = 10;
  await l.claim('b');
  now = 20;
  if (a.state !== 'claimed') throw new Error('not claimed');
  t.equal(await l.complete('a', a.token, 200), true);
  now = 1000; // a's claim would have expired now; its complete moved it behind b
  t.equal(await l.sweep(), 0, 'nothing due: the claim\'s expiry is outgrown');
  t.equal(l.store.size, 2);
  now = 1010; // b expires (10 + 1000); a lives until 1020
  t.equal(await l.sweep(), 1, 'b swept');
  t.equal(l.store.size, 1);
  t.equal(l.store.live('b', now - 1), undefined, 'b is gone, not only expired');
  t.same(await l.claim('a'), { state: 'done', status: 200, expiresInMs: 10 });
  now = 1020;
  t.equal(await l.sweep(), 1);
  t.equal(l.store.size, 0);
});

t.test('keys written many times leave more expiry records than entries; a growth of the table keeps them all', async (t) => {
  let now = 0;
  const l = openMapLedger(opts({ leaseMs: 10, retentionMs: 100_000 }), () => now);
  t.teardown(() => l.close());
  // 1,024 keys (the table's first size), each claimed four times and completed: five records a key,
  // more than a queue of twice the entries of the grown table holds
  for (let i = 0; i < 1024; i++) {
    const key = `many:${i}`;
    for (let k = 0; k < 4; k++) {
      const c = await l.claim(key);
      if (c.state !== 'claimed') throw new Error(`not claimed: ${c.state}`);
      if (k < 3) await l.release(key, c.token);
      else await l.complete(key, c.token, 200);
    }
  }
  await l.claim('one more'); // the table doubles
  t.equal(l.store.size, 1025);
  now = 200_000; // all of them expired
  t.equal(await l.sweep(1000, 100), 1025, 'every key swept: no record was lost in the growth');
  t.equal(l.store.size, 0);
});

t.test('a duplicate of a done key is answered synchronously, the same frozen object every time; cache 0 turns that off', async (t) => {
  const l = openMapLedger(opts());
  t.teardown(() => l.close());
  const key = newKey();
  t.equal(l.cached?.(key), undefined, 'absent: no answer');
  const c = await l.claim(key);
  if (c.state !== 'claimed') throw new Error('not claimed');
  t.equal(l.cached?.(key), undefined, 'in flight: no answer');
  await l.complete(key, c.token, 202);
  const first = l.cached?.(key);
  t.same(first, { state: 'done', status: 202 });
  t.equal(l.cached?.(key), first, 'the same object: nothing allocated per duplicate');
  t.ok(Object.isFrozen(first));
  const off = openMapLedger(opts({ cache: 0 }));
  t.teardown(() => off.close());
  t.equal(off.cached, undefined, 'cache: 0: every duplicate is a ledger operation');
});

t.test('openLedger: `embedded` opens the Map engine without an LRU in front; HOOKGATE_LEDGER_MEMORY=sqlite opens SQLite', async (t) => {
  t.equal(memoryEngine('embedded', undefined), 'map');
  t.equal(memoryEngine('embedded', 'map'), 'map');
  t.equal(memoryEngine('embedded', 'sqlite'), 'sqlite');
  t.equal(memoryEngine('embedded:/var/lib/hookgate/ledger.db', undefined), undefined, 'a file is always SQLite');

  let hits = 0;
  const l = await openLedger({ ...BASE_OPTIONS, url: 'embedded' }, { onCacheHit: () => hits++, onOp: () => {} }) as CachedLedger;
  t.teardown(() => l.close());
  t.equal(l.backend, 'embedded');
  const key = newKey();
  const c = await l.claim(key);
  if (c.state !== 'claimed') throw new Error('not claimed');
  t.equal(await l.complete(key, c.token, 200), true);
  t.same(l.cached(key), { state: 'done', status: 200 }, 'answered synchronously through the instrumented front');
  t.equal(hits, 1, 'counted as a cache hit');
  t.equal(l.size, 0, 'no second copy of the done keys in an LRU');

  const previous = process.env.HOOKGATE_LEDGER_MEMORY;
  process.env.HOOKGATE_LEDGER_MEMORY = 'sqlite';
  t.teardown(() => { if (previous === undefined) delete process.env.HOOKGATE_LEDGER_MEMORY; else process.env.HOOKGATE_LEDGER_MEMORY = previous; });
  const s = await openLedger({ ...BASE_OPTIONS, url: 'embedded' }) as CachedLedger;
  t.teardown(() => s.close());
  t.ok(s.inner instanceof EmbeddedLedger, 'SQLite in memory');
  const c2 = await s.claim(key);
  t.equal(c2.state, 'claimed', 'its own table');
  if (c2.state === 'claimed') await s.complete(key, c2.token, 200);
  t.equal(s.size, 1, 'with the LRU in front');
});

t.test('close empties the table and refuses what follows with ledger_unavailable', async (t) => {
  const l = openMapLedger(opts());
  await l.claim(newKey());
  t.equal(l.store.size, 1);
  await l.close();
  t.equal(l.store.size, 0);
  await t.rejects(l.claim(newKey()), { code: 'ledger_unavailable' });
  await t.rejects(l.ping(), { code: 'ledger_unavailable' });
  t.equal(l.cached?.('x'), undefined);
});

t.test('options are validated as for the other engines', async (t) => {
  t.throws(() => openMapLedger(opts({ leaseMs: 1000, retentionMs: 1000 })), /must be shorter than ledger.retention/);
});
