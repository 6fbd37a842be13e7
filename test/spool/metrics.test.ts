// The spool's gauges read the store when scraped: the live states once a scrape for both gauges, the
// terminal states (every row kept for replay, a read of the whole table) at most once a minute.
import t from 'tap';
import { Registry } from 'prom-client';
import type { Config } from '../../src/config/load.js';
import { LIVE_REUSE_MS, TERMINAL_EVERY_MS, spoolMetrics } from '../../src/spool/metrics.js';
import type { SpoolStats, SpoolStore } from '../../src/spool/store/types.js';

function fakeStore(opts: { fullFails?: boolean } = {}) {
  const calls = { live: 0, full: 0 };
  const live: SpoolStats = {
    counts: [{ route: '/gh', tenant: 'acme', state: 'pending', n: 3 }],
    oldestPendingMs: [{ route: '/gh', ms: 4_000 }],
    paused: [],
  };
  const full: SpoolStats = {
    ...live,
    counts: [...live.counts, { route: '/gh', tenant: 'acme', state: 'delivered', n: 7 }, { route: '/gh', tenant: 'zed', state: 'dead', n: 2 }],
  };
  const store = {
    async stats(isLive?: boolean) {
      if (isLive) {
        calls.live++;
        return live;
      }
      calls.full++;
      if (opts.fullFails) throw new Error('canceling statement due to statement timeout');
      return full;
    },
  } as unknown as SpoolStore;
  return { store, calls };
}

const config = () => ({ knownTenants: new Set(['acme']) }) as unknown as Config;

t.test('one live read serves both gauges of a scrape; the terminal states are counted at most once a minute', async (t) => {
  const { store, calls } = fakeStore();
  let clock = 1_000_000;
  const registry = new Registry();
  spoolMetrics(registry, store, config, () => clock);

  const first = await registry.metrics();
  t.match(first, /hookgate_spool_depth\{route="\/gh",tenant="acme",state="pending"\} 3/);
  t.match(first, /hookgate_spool_depth\{route="\/gh",tenant="acme",state="delivered"\} 7/);
  t.match(first, /hookgate_spool_depth\{route="\/gh",tenant="other",state="dead"\} 2/, 'an unknown tenant is labelled other');
  t.match(first, /hookgate_spool_oldest_pending_seconds\{route="\/gh"\} 4/);
  t.same(calls, { live: 1, full: 1 }, 'the first scrape: one live read for both gauges, one full count');

  clock += LIVE_REUSE_MS + 1;
  const second = await registry.metrics();
  t.match(second, /state="delivered"\} 7/, 'the terminal counts are still reported');
  t.same(calls, { live: 2, full: 1 }, 'the next scrape reads the live states again, not the whole table');

  clock += TERMINAL_EVERY_MS;
  await registry.metrics();
  t.same(calls, { live: 3, full: 2 }, 'a minute later the terminal states are counted again');
});

t.test('a terminal count that fails (a statement timeout on a large spool) leaves the live gauges up', async (t) => {
  const { store, calls } = fakeStore({ fullFails: true });
  let clock = 5_000_000;
  const registry = new Registry();
  spoolMetrics(registry, store, config, () => clock);
  const out = await registry.metrics();
  t.match(out, /hookgate_spool_oldest_pending_seconds\{route="\/gh"\} 4/, 'the oldest-pending gauge is there');
  t.match(out, /hookgate_spool_depth\{route="\/gh",tenant="acme",state="pending"\} 3/);
  t.notMatch(out, /state="delivered"/, 'nothing reported for the states it could not count');
  clock += LIVE_REUSE_MS + 1;
  await registry.metrics();
  t.equal(calls.full, 1, 'the failed count is not retried on every scrape');
});
