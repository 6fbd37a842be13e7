// The store's statements on every dialect: PostgreSQL, the CockroachDB dialect forced on PostgreSQL,
// and the embedded SQLite file. Fencing: a claim has one winner, a stale owner cannot settle, a stale
// ledger token cannot accept.
import t, { type Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openLedger } from '../../src/ledger/index.js';
import { keyHash } from '../../src/ledger/common.js';
import { openSpoolStore } from '../../src/spool/store/index.js';
import { openSqliteSpool } from '../../src/spool/store/sqlite.js';
import type { AcceptInput, DeliveryRow, ListPosition, SpoolStore } from '../../src/spool/store/types.js';
import { decodeCursor } from '../../src/spool/cursor.js';
import type { Ledger } from '../../src/ledger/types.js';
import { schemaName, sleep } from '../helpers/ledger-backends.js';
import { requirePostgres } from '../helpers/services.js';

const PG_URL = (await requirePostgres(t)) ?? '';

interface Target { name: string; url: string; schema?: string; dialect?: 'postgres' | 'cockroachdb'; inThread?: boolean; cleanup(): Promise<void> }

const targets: Array<() => Target> = [
  // the embedded file as `run` opens it (behind its worker thread), and the same store in this thread
  // (what the worker runs; coverage is measured in this thread only)
  ...[false, true].map((inThread) => (): Target => {
    const dir = mkdtempSync(join(tmpdir(), 'hookgate-spool-store-'));
    return { name: inThread ? 'sqlite in this thread' : 'sqlite', url: `embedded:${join(dir, 'l.db')}`, inThread, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }),
  ...(['postgres', 'cockroachdb'] as const).map((dialect) => (): Target => {
    const schema = schemaName(`spool_store_${dialect}`);
    return {
      name: `${dialect} dialect on PostgreSQL`, url: PG_URL, schema, dialect,
      cleanup: async () => {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await c.end();
      },
    };
  }),
];

function input(key: string, token: string, over: Partial<AcceptInput> = {}): AcceptInput {
  return {
    key, ledgerToken: token, acceptStatus: 202, retentionMs: 3_600_000, route: '/r', tenant: 'acme', dispatchOwner: null, leaseMs: 30_000,
    method: 'POST', path: '/r?x=1', headers: ['Content-Type', 'application/json', 'X-Sig', 'abc'], body: Buffer.from([0, 1, 2, 255]), meta: null, ...over,
  };
}

async function claimToken(ledger: Ledger, key: string): Promise<string> {
  const c = await ledger.claim(key);
  if (c.state !== 'claimed') throw new Error(`expected a claim, got ${c.state}`);
  return c.token;
}

for (const make of targets) {
  const target = make();
  t.test(`spool store: ${target.name}`, async (t: Test) => {
    t.teardown(() => target.cleanup());
    const opts = { url: target.url, ...(target.schema ? { schema: target.schema } : {}), ...(target.dialect ? { dialect: target.dialect } : {}) };
    const ledger = await openLedger({ ...opts, retentionMs: 3_600_000, leaseMs: 30_000, cache: 0, migrate: true });
    t.teardown(() => ledger.close());
    const store: SpoolStore = target.inThread ? openSqliteSpool(target.url) : await openSpoolStore(opts);
    t.teardown(() => store.close());
    if (target.dialect) t.equal(store.backend, target.dialect);

    t.test('an accept that claims its key: a new key is stored and done; a settled key answers its status; a held key is in flight; a failed claim is taken over', async (t) => {
      const claiming = (key: string) => store.accept(input(key, randomUUID(), { claim: true }));
      t.match(await claiming('fold-1'), { state: 'spooled', delivering: false });
      t.match(await ledger.claim('fold-1'), { state: 'done', status: 202 }, 'the ledger key is done with acceptStatus');
      t.match(await store.get('fold-1'), { state: 'pending', route: '/r', tenant: 'acme' });
      const dup = await claiming('fold-1');
      t.match(dup, { state: 'done', status: 202 }, 'the same delivery again: a duplicate, with the first status');
      t.ok(dup.state === 'done' && dup.expiresInMs > 3_500_000 && dup.expiresInMs <= 3_600_000, 'and how long the ledger keeps it');
      // a key settled by a synchronous forward
      const sync = await claimToken(ledger, 'fold-2');
      await ledger.complete('fold-2', sync, 201);
      t.match(await claiming('fold-2'), { state: 'done', status: 201 });
      t.equal(await store.get('fold-2'), undefined, 'nothing stored');
      // a key another request holds
      const held = await claimToken(ledger, 'fold-3');
      const busy = await claiming('fold-3');
      t.ok(busy.state === 'in_flight' && busy.retryAfterMs > 25_000 && busy.retryAfterMs <= 30_000, `in flight for the lease left (${JSON.stringify(busy)})`);
      t.equal(await store.get('fold-3'), undefined, 'nothing stored');
      // a claim released after a failed forward: the retry gets through
      await ledger.release('fold-3', held);
      t.match(await claiming('fold-3'), { state: 'spooled' }, 'a failed claim is taken over');
      t.match(await ledger.claim('fold-3'), { state: 'done', status: 202 });
      // several in one group commit, one of them a duplicate
      const many = await Promise.all(['fold-4', 'fold-5', 'fold-1'].map(claiming));
      t.match(many, [{ state: 'spooled' }, { state: 'spooled' }, { state: 'done', status: 202 }]);
    });

    t.test('accept: one statement marks the ledger key done and stores the bytes; a stale token stores nothing', async (t) => {
      const token = await claimToken(ledger, 'k1');
      t.same(await store.accept(input('k1', randomUUID())), { state: 'lost' }, 'not our claim: nothing stored');
      t.equal(await store.get('k1'), undefined);
      const r = await store.accept(input('k1', token));
      t.equal(r.state, 'spooled');
      const again = await ledger.claim('k1');
      t.same(again.state === 'done' && again.status, 202, 'the ledger answers duplicates with acceptStatus');
      const row = await store.get('k1');
      t.match(row, { key: 'k1', route: '/r', tenant: 'acme', state: 'pending', attempts: 0 });
      const [claimed] = await store.claim([keyHash('k1')], randomUUID(), 30_000);
      t.same(claimed!.headers, ['Content-Type', 'application/json', 'X-Sig', 'abc'], 'headers in order and case');
      t.same([...claimed!.body], [0, 1, 2, 255], 'body bytes');
      t.equal(claimed!.path, '/r?x=1');
    });

    t.test('accepts of one tick (group commit): each answered for itself, a stale token lost, a key already spooled a duplicate', async (t) => {
      const tokens = await Promise.all(['g1', 'g2', 'g3'].map((k) => claimToken(ledger, k)));
      const owner = randomUUID();
      const results = await Promise.all([
        store.accept(input('g1', tokens[0]!, { dispatchOwner: owner })),
        store.accept(input('g2', tokens[1]!, { attempts: 1, delayMs: 60_000 })),
        store.accept(input('g3', randomUUID())),
        store.accept(input('k1', randomUUID())),
      ]);
      t.match(results, [{ state: 'spooled', delivering: true }, { state: 'spooled', delivering: false }, { state: 'lost' }, { state: 'lost' }]);
      t.match(await store.get('g2'), { state: 'pending', attempts: 1 });
      t.ok((await store.get('g2'))!.nextAt > Date.now() + 30_000, 'due after its delay');
      t.equal(await store.get('g3'), undefined, 'nothing stored without the claim');
      const [g1] = await store.claim([keyHash('g1')], randomUUID(), 30_000);
      t.equal(g1, undefined, 'stored delivering under its dispatch owner');
      t.ok(await store.settle(keyHash('g1'), owner, { state: 'delivered', status: 200, keepMs: 1000 }));
      const late = await Promise.all([store.accept(input('g3', tokens[2]!)), store.accept(input('g4', await claimToken(ledger, 'g4')))]);
      t.match(late, [{ state: 'spooled' }, { state: 'spooled' }]);
    });

    t.test('the accepting span\'s context (tracing on) is stored in the meta column beside the signing metadata and read back with the claim', async (t) => {
      const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const [a, b, c] = await Promise.all(['tr1', 'tr2', 'tr3'].map((k) => claimToken(ledger, k)));
      t.match(await Promise.all([
        store.accept(input('tr1', a!, { trace: { traceparent: tp } })),
        store.accept(input('tr2', b!, { meta: { secretIndex: 1, signedAt: 1_700_000_000_000, id: 'msg_1' }, trace: { traceparent: tp, tracestate: 'vendor=opaque' } })),
        store.accept(input('tr3', c!)),
      ]), [{ state: 'spooled' }, { state: 'spooled' }, { state: 'spooled' }]);
      const claimed = await store.claim(['tr1', 'tr2', 'tr3'].map((k) => keyHash(k)), randomUUID(), 30_000);
      const by = (k: string) => claimed.find((r) => r.key === k)!;
      t.same([by('tr1').meta, by('tr1').trace], [null, { traceparent: tp }], 'the context alone: no signing metadata');
      t.same([by('tr2').meta, by('tr2').trace], [{ secretIndex: 1, signedAt: 1_700_000_000_000, id: 'msg_1' }, { traceparent: tp, tracestate: 'vendor=opaque' }], 'both, each read back as it was');
      t.same([by('tr3').meta, by('tr3').trace], [null, undefined], 'untraced: nothing');
    });

    t.test('accept with a dispatch owner stores it delivering, leased to that owner', async (t) => {
      const token = await claimToken(ledger, 'k2');
      const owner = randomUUID();
      const r = await store.accept(input('k2', token, { dispatchOwner: owner }));
      t.match(r, { state: 'spooled', delivering: true });
      t.same(await store.claim([keyHash('k2')], randomUUID(), 30_000), [], 'a live lease is not claimable');
      t.equal(await store.settle(keyHash('k2'), randomUUID(), { state: 'delivered', status: 200, keepMs: 1000 }), false, 'another owner cannot settle');
      t.equal(await store.settle(keyHash('k2'), owner, { state: 'delivered', status: 200, keepMs: 1000 }), true);
      t.match(await store.get('k2'), { state: 'delivered', lastStatus: 200 });
    });

    t.test('concurrent claims of the same due rows: each row has one winner', async (t) => {
      const keys = Array.from({ length: 12 }, (_, i) => `c${i}`);
      for (const k of keys) await store.accept(input(k, await claimToken(ledger, k), { route: '/c' }));
      const hashes = keys.map(keyHash);
      const results = await Promise.all(Array.from({ length: 4 }, () => store.claim(hashes, randomUUID(), 30_000)));
      const won = results.flat().map((c) => c.key).sort();
      t.same(won, [...keys].sort(), 'every row claimed exactly once');
    });

    t.test('settle: failed spends an attempt and comes due later; not reached spends none; dead is never due', async (t) => {
      await store.accept(input('s1', await claimToken(ledger, 's1'), { route: '/s' }));
      const owner = randomUUID();
      await store.claim([keyHash('s1')], owner, 30_000);
      t.ok(await store.settle(keyHash('s1'), owner, { state: 'pending', spend: false, delayMs: 0, status: null, error: 'not reached' }));
      t.match(await store.get('s1'), { state: 'pending', attempts: 0 });
      const o2 = randomUUID();
      t.equal((await store.claim([keyHash('s1')], o2, 30_000)).length, 1);
      t.ok(await store.settle(keyHash('s1'), o2, { state: 'pending', spend: true, delayMs: 60_000, status: 500, error: 'status 500' }));
      t.match(await store.get('s1'), { state: 'pending', attempts: 1, lastStatus: 500 });
      t.same(await store.due('/s', 4, 64), [], 'not due before its retry time');
      t.same(await store.claim([keyHash('s1')], randomUUID(), 30_000), []);
      await store.accept(input('s2', await claimToken(ledger, 's2'), { route: '/s' }));
      const o3 = randomUUID();
      await store.claim([keyHash('s2')], o3, 30_000);
      t.ok(await store.settle(keyHash('s2'), o3, { state: 'dead', spend: true, status: 500, error: 'status 500', keepMs: 60_000 }));
      t.same(await store.due('/s', 4, 64), []);
      t.same((await store.list({ route: '/s', state: 'dead' })).map((d) => d.key), ['s2']);
    });

    t.test('a lapsed lease is taken over and spends an attempt', async (t) => {
      await store.accept(input('l1', await claimToken(ledger, 'l1'), { route: '/l' }));
      await store.claim([keyHash('l1')], randomUUID(), 50);
      await sleep(120);
      const [taken] = await store.claim([keyHash('l1')], randomUUID(), 30_000);
      t.equal(taken?.attempts, 1);
      t.equal(taken?.takeover, true, 'reported as a takeover');
      await store.accept(input('l2', await claimToken(ledger, 'l2'), { route: '/l' }));
      const [fresh] = await store.claim([keyHash('l2')], randomUUID(), 30_000);
      t.equal(fresh?.takeover, false, 'a pending one is not');
    });

    t.test('sweep: terminal rows past their keep time go with their bytes; live ones never', async (t) => {
      for (const k of ['w1', 'w2', 'w3']) await store.accept(input(k, await claimToken(ledger, k), { route: '/w' }));
      const o = randomUUID();
      await store.claim([keyHash('w1'), keyHash('w2')], o, 30_000);
      await store.settle(keyHash('w1'), o, { state: 'delivered', status: 200, keepMs: 1 });
      await store.settle(keyHash('w2'), o, { state: 'dead', spend: true, status: 500, error: 'x', keepMs: 3_600_000 });
      await sleep(50);
      t.equal(await store.sweep(1000), 1, 'only the delivered one whose keep time ran out');
      t.equal(await store.get('w1'), undefined);
      t.equal((await store.get('w2'))?.state, 'dead', 'a dead one kept for keepDead');
      t.equal((await store.get('w3'))?.state, 'pending', 'a live one is never swept');
      t.equal(await store.byId(keyHash('w1').toString('hex'), true), undefined);
      const [live] = await store.claim([keyHash('w3')], o, 30_000);
      t.equal(live?.body.toString(), input('w3', '').body.toString(), 'a live one keeps its bytes');
      // a replay makes a kept delivery live again: no longer sweepable
      t.ok(await store.replay(keyHash('w2').toString('hex')));
      t.match(await store.get('w2'), { state: 'pending', attempts: 0, replays: 1 });
    });

    t.test('expire: pending deliveries past maxAge go dead (a paused route\'s too); delivering and younger ones stay', async (t) => {
      await store.accept(input('x1', await claimToken(ledger, 'x1'), { route: '/x' }));
      await store.accept(input('x2', await claimToken(ledger, 'x2'), { route: '/x' }));
      await store.pause('/x', '*');
      await sleep(1200);
      await store.accept(input('x3', await claimToken(ledger, 'x3'), { route: '/x' }));
      t.equal(await store.expire('/x', 1000, 60_000), 2, 'the two older than 1 s');
      t.match(await store.get('x1'), { state: 'dead', lastError: 'expired: older than maxAge' });
      t.match(await store.get('x3'), { state: 'pending' });
      await store.resume('/x', '*');
    });

    t.test('held: the rows still delivering under an owner, with their bytes (a lost claim answer); none under another owner or once settled', async (t) => {
      await store.accept(input('h1', await claimToken(ledger, 'h1'), { route: '/h' }));
      const o = randomUUID();
      t.equal((await store.claim([keyHash('h1')], o, 30_000)).length, 1);
      const held = await store.held([keyHash('h1')], o);
      t.equal(held.length, 1);
      t.match(held[0], { key: 'h1', route: '/h', tenant: 'acme', owner: o, method: 'POST', path: '/r?x=1' });
      t.same(held[0]!.body, Buffer.from([0, 1, 2, 255]), 'with its bytes');
      t.same(await store.held([keyHash('h1')], randomUUID()), [], 'not under another owner');
      t.equal(await store.settle(keyHash('h1'), o, { state: 'delivered', status: 200, keepMs: 60_000 }), true);
      t.same(await store.held([keyHash('h1')], o), [], 'not once settled');
    });

    t.test('cancel, stats and ping: a pending delivery is cancelled, a delivering one is not; stats count each state and the oldest pending age', async (t) => {
      await store.accept(input('cs1', await claimToken(ledger, 'cs1'), { route: '/cs' }));
      await store.accept(input('cs2', await claimToken(ledger, 'cs2'), { route: '/cs' }));
      const o = randomUUID();
      t.equal((await store.claim([keyHash('cs2')], o, 30_000)).length, 1);
      t.equal(await store.cancel(keyHash('cs1').toString('hex'), 60_000), true, 'pending: cancelled');
      t.equal(await store.cancel(keyHash('cs2').toString('hex'), 60_000), false, 'delivering: not cancelled');
      t.equal(await store.cancel('not-an-id', 60_000), false, 'an id that is not one: false');
      t.match(await store.get('cs1'), { state: 'cancelled' });
      const stats = await store.stats();
      const n = (state: string) => stats.counts.find((c) => c.route === '/cs' && c.state === state)?.n;
      t.equal(n('cancelled'), 1);
      t.equal(n('delivering'), 1);
      t.ok(stats.oldestPendingMs.some((o) => o.route === '/cs' && o.ms >= 0), 'the oldest live delivery of the route has an age');
      // the live read (the gauges' every scrape): pending and delivering only, the same numbers
      const live = await store.stats(true);
      t.same(live.counts.filter((c) => c.route === '/cs'), stats.counts.filter((c) => c.route === '/cs' && (c.state === 'pending' || c.state === 'delivering')), 'live: the same live counts, no terminal state');
      t.same(live.oldestPendingMs.map((o) => o.route).sort(), stats.oldestPendingMs.map((o) => o.route).sort(), 'live: an oldest age for the same routes');
      await t.resolves(store.ping());
    });

    t.test('due: first tries before replays and retries of the same tenant', async (t) => {
      for (let i = 0; i < 3; i++) await store.accept(input(`rp${i}`, await claimToken(ledger, `rp${i}`), { route: '/rp' }));
      const o = randomUUID();
      await store.claim([0, 1, 2].map((i) => keyHash(`rp${i}`)), o, 30_000);
      for (let i = 0; i < 3; i++) await store.settle(keyHash(`rp${i}`), o, { state: 'dead', spend: true, status: 500, error: 'x', keepMs: 60_000 });
      t.equal(await store.replayMany({ route: '/rp', state: 'dead' }, false), 3, 'a bulk replay');
      await store.accept(input('rp-fresh', await claimToken(ledger, 'rp-fresh'), { route: '/rp' }));
      const due = await store.due('/rp', 1, 64);
      t.same(due.map((d) => d.keyHash.toString('hex')), [keyHash('rp-fresh').toString('hex')], 'the fresh delivery goes before the older replays');
    });

    t.test('page: 25 deliveries 10 at a time, each exactly once, while new ones arrive (ties on received_at broken by key)', async (t) => {
      const accept = async (k: string) => store.accept(input(k, await claimToken(ledger, k), { route: '/pg' }));
      // 15 in one tick (one group-committed statement on PostgreSQL: the same received_at), 10 one by one
      await Promise.all(Array.from({ length: 15 }, (_, i) => accept(`pg-old${i}`)));
      for (let i = 0; i < 10; i++) {
        if (target.name.startsWith('sqlite')) await sleep(2); // distinct received_at (ms) on the file, for the order asserted below
        await accept(`pg-mid${i}`);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const after: ListPosition | undefined = cursor ? decodeCursor(cursor) : undefined;
        const page: { deliveries: DeliveryRow[]; next: string | null } = await store.page({ route: '/pg', limit: 10, ...(after ? { after } : {}) });
        pages++;
        t.ok(page.deliveries.length <= 10);
        for (let j = 1; j < page.deliveries.length; j++) t.ok(page.deliveries[j - 1]!.receivedAt >= page.deliveries[j]!.receivedAt, 'newest first');
        seen.push(...page.deliveries.map((d) => d.key));
        cursor = page.next;
        // new deliveries arrive between pages: newer than every cursor, so never in a later page
        await accept(`pg-new${pages}`);
      } while (cursor && pages < 10);
      const before = seen.filter((k) => !k.startsWith('pg-new'));
      t.equal(pages, 3, '10 + 10 + 5');
      t.equal(new Set(seen).size, seen.length, 'no delivery listed twice');
      t.same([...before].sort(), [...Array.from({ length: 15 }, (_, i) => `pg-old${i}`), ...Array.from({ length: 10 }, (_, i) => `pg-mid${i}`)].sort(), 'each of the 25 exactly once');
      t.same(seen.slice(0, 10), Array.from({ length: 10 }, (_, i) => `pg-mid${9 - i}`), 'the first page is the newest ten');
      t.equal((await store.page({ route: '/pg', limit: 100 })).next, null, 'no cursor on the last page');
      t.equal(decodeCursor('not-a-cursor'), undefined, 'a made-up cursor is refused');
    });

    t.test('replayMany: paced by next_at, oldest first, `max` a window; durable (the pace is in the rows)', async (t) => {
      const o = randomUUID();
      for (let i = 0; i < 5; i++) {
        await store.accept(input(`rq${i}`, await claimToken(ledger, `rq${i}`), { route: '/rq' }));
        if (target.name.startsWith('sqlite')) await sleep(2); // distinct received_at (ms) on the file, for the order below
      }
      await store.claim([0, 1, 2, 3, 4].map((i) => keyHash(`rq${i}`)), o, 30_000);
      for (let i = 0; i < 5; i++) await store.settle(keyHash(`rq${i}`), o, { state: 'dead', spend: true, status: 500, error: 'x', keepMs: 60_000 });
      t.equal(await store.replayMany({ route: '/rq', state: 'dead' }, true, { max: 2, windowMs: 60_000 }), 5, 'dry run: counted');
      t.equal((await store.list({ route: '/rq', state: 'dead' })).length, 5, 'dry run: nothing changed');
      t.equal(await store.replayMany({ route: '/rq', state: 'dead' }, false, { max: 2, windowMs: 60_000 }), 5);
      const due = await store.due('/rq', 10, 64);
      t.same(due.map((d) => d.keyHash.toString('hex')).sort(), [keyHash('rq0').toString('hex'), keyHash('rq1').toString('hex')].sort(), 'only the oldest two are due now');
      const rows = await Promise.all([0, 1, 2, 3, 4].map(async (i) => (await store.get(`rq${i}`))!));
      t.ok(rows.every((r) => r.state === 'pending' && r.replays === 1 && r.attempts === 0), 'all pending, one replay, attempts from 0');
      const base = rows[0]!.nextAt;
      t.same(rows.map((r) => Math.round((r.nextAt - base) / 60_000)), [0, 0, 1, 1, 2], 'two a window, oldest first');
    });

    t.test('due: round-robin input, a few rows per tenant', async (t) => {
      for (let i = 0; i < 6; i++) await store.accept(input(`fa${i}`, await claimToken(ledger, `fa${i}`), { route: '/f', tenant: 'a' }));
      await store.accept(input('fb0', await claimToken(ledger, 'fb0'), { route: '/f', tenant: 'b' }));
      const due = await store.due('/f', 2, 64);
      t.same(due.map((d) => d.tenant).sort(), ['a', 'a', 'b']);
      const counts = await store.pendingCounts();
      t.same(counts.filter((c) => c.route === '/f').sort((x, y) => x.tenant.localeCompare(y.tenant)), [{ route: '/f', tenant: 'a', n: 6 }, { route: '/f', tenant: 'b', n: 1 }]);
    });
  });
}
