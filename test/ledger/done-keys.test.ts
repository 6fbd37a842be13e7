// The hot cache's fingerprint table against a plain model (a Map in order of use), op by op: growth,
// eviction of the least recently used, expiry, and the deletions that shift probe paths back.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { DoneKeys } from '../../src/ledger/done-keys.js';

/** the model: Map order is order of use (oldest first); expired entries stay until looked at, as in the table */
class Model {
  readonly m = new Map<string, { status: number; expires: number }>();
  constructor(readonly max: number, readonly now: () => number) {}
  get(k: string): number | undefined {
    const v = this.m.get(k);
    if (!v) return undefined;
    this.m.delete(k);
    if (v.expires <= this.now()) return undefined;
    this.m.set(k, v);
    return v.status;
  }
  set(k: string, status: number, ttl: number): void {
    if (!this.m.delete(k) && this.m.size === this.max) this.m.delete(this.m.keys().next().value!);
    this.m.set(k, { status, expires: this.now() + ttl });
  }
}

/** a small deterministic PRNG, so that a failure replays */
function prng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
}

t.test('matches the model over 200,000 random operations (eviction, expiry)', async (t) => {
  for (const [max, keys] of [[500, 3000], [1000, 1200], [1, 5], [64, 64]] as const) {
    let clock = 0;
    const now = () => clock;
    const table = new DoneKeys(max, now);
    const model = new Model(max, now);
    const rnd = prng(max * 7919 + keys);
    let mismatches = 0;
    let hits = 0;
    let k = '';
    for (let op = 0; op < 50_000; op++) {
      // a third of the time the key of the operation before (as the claim stage's lookup, then the ledger's)
      if (rnd() >= 0.33 || !k) k = `ns\x1ftenant\x1fid:evt_${Math.floor(rnd() * keys)}`;
      const r = rnd();
      if (r < 0.45) {
        const status = 200 + Math.floor(rnd() * 300);
        const ttl = 1 + Math.floor(rnd() * 5000);
        table.set(k, status, ttl);
        model.set(k, status, ttl);
      } else if (r < 0.97) {
        const a = table.get(k);
        const b = model.get(k);
        if (a !== b) mismatches++;
        if (a !== undefined) hits++;
      } else {
        clock += Math.floor(rnd() * 400);
      }
      if (table.size !== model.m.size) { mismatches++; break; }
    }
    t.equal(mismatches, 0, `max ${max}, ${keys} keys: every answer and size as the model's`);
    t.ok(hits > 1000 || max < 100, `max ${max}: the run exercised hits (${hits})`);
    t.equal(table.capacity, max, 'max entries allocated');
  }
});

t.test('keys that differ in one character or only in length are different keys', async (t) => {
  const table = new DoneKeys(100);
  table.set('a\x1fb\x1fid:1', 200, 60_000);
  t.equal(table.get('a\x1fb\x1fid:1'), 200);
  t.equal(table.get('a\x1fb\x1fid:2'), undefined);
  t.equal(table.get('a\x1fb\x1fid:1 '), undefined);
  t.equal(table.get('a\x1fb\x1fid:'), undefined);
  t.equal(table.get('a\x1fb\x1fid:\u0131'), undefined, 'a non-Latin-1 key');
});

t.test('clear() forgets everything; the table is usable after it', async (t) => {
  const table = new DoneKeys(10);
  for (let i = 0; i < 10; i++) table.set(`k${i}`, 200 + i, 60_000);
  t.equal(table.size, 10);
  table.clear();
  t.equal(table.size, 0);
  t.equal(table.get('k3'), undefined);
  table.set('k3', 299, 60_000);
  t.equal(table.get('k3'), 299);
});

t.test('memory: 100,000 entries take a few megabytes', async (t) => {
  const table = new DoneKeys(100_000);
  for (let i = 0; i < 100_000; i++) table.set(`route\x1facme\x1fid:evt_${i.toString(36)}_0123456789abcdef`, 200, 60_000);
  t.equal(table.size, 100_000);
  t.equal(table.get('route\x1facme\x1fid:evt_0_0123456789abcdef'), 200, 'the first key is still held');
  const t2 = table as unknown as Record<string, ArrayBufferView>;
  const bytes = ['fp', 'status', 'expires', 'prev', 'next', 'slots'].reduce((n, f) => n + t2[f]!.byteLength, 0);
  t.ok(bytes < 5 * 1024 * 1024, `${(bytes / 1e6).toFixed(1)} MB of arrays for 100,000 entries`);
});

t.test('memory: the arrays for max entries cost nothing until entries arrive', async (t) => {
  // In a process of its own, so that RSS measures this table only. 1,000,000 entries are 44 MB of
  // arrays: made at once, they must stay untouched zero pages until written (an idle gateway).
  const url = new URL('../../src/ledger/done-keys.js', import.meta.url).href;
  const script = [
    `const { DoneKeys } = await import(${JSON.stringify(url)});`,
    'const rss = () => process.memoryUsage.rss();',
    // the same work on a small table first: the hashing, the compiled code and the heap it needs are
    // then in RSS already (about 4 MB), and r2 - r0 is the big table's
    'const warm = new DoneKeys(2000);',
    'for (let i = 0; i < 1000; i++) warm.set(`w${i}`, 200, 60_000);',
    'const r0 = rss();',
    'const table = new DoneKeys(1_000_000);',
    'const r1 = rss();',
    'for (let i = 0; i < 1000; i++) table.set(`k${i}`, 200, 60_000);',
    'const r2 = rss();',
    'console.log(JSON.stringify({ made: r1 - r0, filled: r2 - r0, capacity: table.capacity }));',
  ].join('\n');
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
  t.equal(out.capacity, 1_000_000);
  const mb = (b: number) => `${(b / 1048576).toFixed(1)} MB`;
  t.ok(out.made < 4 * 1048576, `made: ${mb(out.made)} of RSS for 44 MB of arrays`);
  // 1,000 entries touch at most 1,000 pages of the slot table and a few of the dense arrays
  t.ok(out.filled < 8 * 1048576, `1,000 entries: ${mb(out.filled)}`);
});
