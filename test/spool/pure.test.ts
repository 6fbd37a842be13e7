// schedule.ts, fairness.ts and cursor.ts are pure: properties over any input.
import t from 'tap';
import fc from 'fast-check';
import { pickFair } from '../../src/spool/fairness.js';
import { classifyError, classifyStatus, deliveryKind, nextRetryMs, parseRetryAfter, routeBackoffMs, NOT_REACHED_CAP_MS, RETRY_AFTER_MAX_MS } from '../../src/spool/schedule.js';
import { statusMatcher } from '../../src/config/units.js';
import { decodeStoredMeta, encodeMeta } from '../../src/spool/store/headers.js';
import { decodeCursor, encodeCursor, pageOf } from '../../src/spool/cursor.js';

const tenants = fc.constantFrom('a', 'b', 'c', 'd', 'e');
const dueRows = fc.array(fc.record({ tenant: tenants, id: fc.nat() }), { maxLength: 60 });

t.test('pickFair: never more than n, only given rows, each tenant\'s rows oldest first', async (t) => {
  fc.assert(fc.property(dueRows, fc.integer({ min: 0, max: 20 }), fc.option(tenants, { nil: undefined }), (due, n, cursor) => {
    const { picked } = pickFair(due, n, cursor);
    if (picked.length !== Math.min(n, due.length)) return false;
    if (!picked.every((p) => due.includes(p))) return false;
    for (const tn of new Set(due.map((d) => d.tenant))) {
      const mine = due.filter((d) => d.tenant === tn);
      const got = picked.filter((p) => p.tenant === tn);
      if (!got.every((g, i) => g === mine[i])) return false;
    }
    return true;
  }));
});

t.test('pickFair: shares are even (no tenant gets two more than another that still had rows)', async (t) => {
  fc.assert(fc.property(dueRows, fc.integer({ min: 1, max: 20 }), fc.option(tenants, { nil: undefined }), (due, n, cursor) => {
    const { picked } = pickFair(due, n, cursor);
    const count = (tn: string) => picked.filter((p) => p.tenant === tn).length;
    const present = [...new Set(due.map((d) => d.tenant))];
    for (const x of present) for (const y of present) {
      const yHadMore = due.filter((d) => d.tenant === y).length > count(y);
      if (yHadMore && count(x) > count(y) + 1) return false;
    }
    return true;
  }));
});

t.test('pickFair: one slot at a time, every tenant with work is served within one round', async (t) => {
  fc.assert(fc.property(fc.array(tenants, { minLength: 1, maxLength: 5 }), (names) => {
    const set = [...new Set(names)];
    // each tenant has plenty due; serve one at a time as a dispatcher with concurrency 1 would
    const due = set.flatMap((tn) => Array.from({ length: 10 }, (_, i) => ({ tenant: tn, id: i })));
    let cursor: string | undefined;
    const served: string[] = [];
    for (let i = 0; i < set.length; i++) {
      const r = pickFair(due, 1, cursor);
      cursor = r.cursor;
      served.push(r.picked[0]!.tenant);
    }
    return new Set(served).size === set.length;
  }));
});

t.test('nextRetryMs: within ±20 % of the schedule, null after the last', async (t) => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 1e8 }), { maxLength: 10 }), fc.integer({ min: 0, max: 12 }), fc.double({ min: 0, max: 1, noNaN: true }), (schedule, spent, r) => {
    const w = nextRetryMs(spent, schedule, r);
    if (spent < 1 || spent > schedule.length) return w === null;
    const base = schedule[spent - 1]!;
    return w !== null && w >= Math.floor(base * 0.8) && w <= Math.ceil(base * 1.2);
  }));
});

t.test('routeBackoffMs: bounded; Retry-After honoured within [1 s, 10 min]', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 100 }), fc.double({ min: 0, max: 1, noNaN: true }), (step, r) => {
    const w = routeBackoffMs(step, 'not_reached', r);
    return w >= 500 && w <= NOT_REACHED_CAP_MS;
  }));
  t.equal(routeBackoffMs(1, 'overloaded', 0.5, 30), 30_000);
  t.equal(routeBackoffMs(1, 'overloaded', 0.5, 0), 1_000);
  t.equal(routeBackoffMs(1, 'overloaded', 0.5, 1e9), RETRY_AFTER_MAX_MS);
  t.equal(parseRetryAfter('120', 0), 120);
  t.equal(parseRetryAfter('nonsense', 0), undefined);
});

t.test('failure classes', async (t) => {
  const completes = statusMatcher(['2xx', '4xx']);
  t.equal(classifyStatus(200, completes), 'delivered');
  t.equal(classifyStatus(404, completes), 'delivered', 'a 4xx in completeOn is the application\'s answer');
  t.equal(classifyStatus(500, completes), 'failed');
  for (const s of [429, 502, 503, 504]) t.equal(classifyStatus(s, completes), 'overloaded', String(s));
  t.equal(classifyError('ECONNREFUSED'), 'not_reached');
  t.equal(classifyError('UND_ERR_CONNECT_TIMEOUT'), 'not_reached');
  t.equal(classifyError('UND_ERR_HEADERS_TIMEOUT'), 'failed', 'a timeout after the request was sent spends an attempt');
  t.equal(classifyError('UND_ERR_SOCKET'), 'failed');
  t.equal(deliveryKind(0, 0), 'first');
  t.equal(deliveryKind(2, 0), 'retry');
  t.equal(deliveryKind(0, 1), 'replay');
});

t.test('the meta column: signing metadata and the accepting span\'s context round-trip; rows written before hold the same JSON; anything malformed is dropped', async (t) => {
  const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const meta = { secretIndex: 0, signedAt: 1_700_000_000_000, id: 'evt_1' };
  t.equal(encodeMeta(null, undefined), null, 'neither: NULL, as before');
  t.equal(encodeMeta(meta, undefined), JSON.stringify(meta), 'signing metadata alone: the JSON stored before tracing existed');
  t.same(decodeStoredMeta(encodeMeta(meta, undefined)), { meta });
  t.same(decodeStoredMeta(encodeMeta(null, { traceparent: tp })), { meta: null, trace: { traceparent: tp } });
  t.same(decodeStoredMeta(encodeMeta(meta, { traceparent: tp, tracestate: 'a=b' })), { meta, trace: { traceparent: tp, tracestate: 'a=b' } });
  t.same(decodeStoredMeta('{"trace":{"traceparent":"not-a-traceparent"}}'), { meta: null }, 'an unreadable context: no link');
  t.same(decodeStoredMeta('{"trace":"x","secretIndex":"1","signedAt":2}'), { meta: null });
  t.same(decodeStoredMeta('not json'), { meta: null });
  t.same(decodeStoredMeta('null'), { meta: null });
});

t.test('cursor: any position round-trips; anything else is refused; pageOf gives a cursor only when more follow', async (t) => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 18n - 1n }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (at, bytes) => {
    const hash = Buffer.from(bytes);
    const back = decodeCursor(encodeCursor({ at: String(at), hash }));
    return back !== undefined && back.at === String(at) && back.hash.equals(hash);
  }));
  fc.assert(fc.property(fc.string({ maxLength: 120 }), (s) => {
    const p = decodeCursor(s);
    // whatever decodes is a well-formed position (digits, 32 bytes): never raw text into a statement
    return p === undefined || (/^[0-9]{1,18}$/.test(p.at) && p.hash.length === 32);
  }));
  t.equal(decodeCursor(''), undefined);
  t.equal(decodeCursor(Buffer.from(`1.${'z'.repeat(64)}`).toString('base64url')), undefined);
  const pos = (n: number) => ({ at: String(n), hash: Buffer.alloc(32, n) });
  t.same(pageOf([1, 2, 3], 3, pos), { rows: [1, 2, 3], next: null }, 'exactly limit rows (no limit + 1st): the last page');
  const page = pageOf([5, 4, 3, 2], 3, pos);
  t.same(page.rows, [5, 4, 3]);
  t.same(decodeCursor(page.next!), pos(3), 'the cursor names the page\'s last row');
});
