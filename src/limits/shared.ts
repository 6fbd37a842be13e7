// The Redis store, shared by every replica so a quota is global (one Lua script a hit: INCR + PEXPIRE,
// @fastify/rate-limit's RedisStore). It never fails a request: while Redis is unreachable each replica
// counts in its own memory store (limits become per replica), and it goes back to Redis when Redis is.
//
// No latency while Redis is down: ioredis is told not to queue commands while disconnected
// (enableOfflineQueue: false) and not to retry them (maxRetriesPerRequest: 0), and once an outage is
// known the hot path does not touch Redis at all; ioredis reconnects in the background, and a probe
// (PING) notices a Redis that answers again on a connection that never dropped (a command timeout).
import type { Redis as RedisClient, RedisOptions } from 'ioredis';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { redisStore, type Hit, type LimitStore, type RateLimitStore } from './store.js';

export interface SharedStoreOptions {
  url: string;
  /** prefix of every key (several deployments, or tests, on one Redis) */
  keyPrefix: string;
  log: Pick<Logger, 'warn' | 'info'>;
  /** one limit decision made locally because Redis was unreachable */
  onFallback: () => void;
  /** every change of `state` (and the initial `starting`): the hookgate_limiter_store_up gauge */
  onState?: (state: SharedStore['state']) => void;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** how often an outage with the connection still up is probed */
  probeMs?: number;
}

export interface SharedStore {
  /** `shared` (Redis), `local` (outage) or `starting` (first connection not made yet: local, silently) */
  readonly state: 'starting' | 'shared' | 'local';
  /** resolves once the first connection succeeded or failed */
  ready(): Promise<void>;
  /** a store on the shared connection that counts in `local` (this replica) while Redis is unreachable */
  withFallback(local: LimitStore): LimitStore;
  close(): Promise<void>;
}

/** `redis://user:secret@host:6379/2` → `redis://host:6379/2`, for logs. */
export function describeStore(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'redis';
  }
}

export function sharedStore(opts: SharedStoreOptions): SharedStore {
  const { log, onFallback } = opts;
  const onState = opts.onState ?? (() => undefined);
  const where = describeStore(opts.url);
  const options: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: opts.connectTimeoutMs ?? 1000,
    commandTimeout: opts.commandTimeoutMs ?? 500,
    // Reconnect forever, at most a second apart, so recovery is noticed within about a second.
    retryStrategy: (times) => Math.min(times * 100, 1000),
    keyPrefix: '',
  };
  // Required here, not at import: ioredis costs ~20 MB of idle RSS that a memory store never needs.
  const { Redis } = createRequire(import.meta.url)('ioredis') as { Redis: new (url: string, options: RedisOptions) => RedisClient };
  const redis = new Redis(opts.url, options);
  const remote: RateLimitStore = new (redisStore())(false, false, redis, opts.keyPrefix);

  let state: SharedStore['state'] = 'starting';
  onState(state);
  let closing = false;
  let probe: NodeJS.Timeout | null = null;
  let settleReady!: () => void;
  const readyPromise = new Promise<void>((r) => (settleReady = r));

  const up = () => {
    if (closing) return;
    if (probe) clearInterval(probe), (probe = null);
    if (state === 'local') log.info({ store: where }, 'rate limit store reachable again; limits are shared across replicas');
    if (state !== 'shared') onState('shared');
    state = 'shared';
    settleReady();
  };
  const down = (err: Error) => {
    if (closing || state === 'local') return;
    state = 'local';
    onState('local');
    settleReady();
    log.warn({ store: where, err: { message: err.message } }, 'rate limit store unreachable; limits are per replica until it is back');
    // A command that timed out on a live connection brings no `ready` event when Redis answers again.
    probe = setInterval(() => {
      if (redis.status === 'ready') redis.ping().then(up, () => undefined);
    }, opts.probeMs ?? 1000);
    probe.unref();
  };
  // A first connection that neither succeeds nor fails (a silent network) counts as an outage too.
  const connectTimeoutMs = options.connectTimeout!;
  const firstConnect = setTimeout(() => state === 'starting' && down(new Error(`no connection after ${2 * connectTimeoutMs}ms`)), 2 * connectTimeoutMs);
  firstConnect.unref();
  redis.on('ready', up);
  // ioredis reports each failed (re)connection here; without a listener it prints them to stderr.
  redis.on('error', down);
  redis.on('close', () => down(new Error('connection closed')));

  return {
    get state() {
      return state;
    },
    ready: () => readyPromise,
    withFallback(local) {
      const fallback = (key: string, windowMs: number, max: number, cb: (h: Hit) => void) => {
        if (state === 'local') onFallback();
        local.hit(key, windowMs, max, cb);
      };
      return {
        hit(key, windowMs, max, cb) {
          if (state !== 'shared') return fallback(key, windowMs, max, cb);
          remote.incr(
            key,
            (err, res) => {
              if (err || !res) {
                down(err ?? new Error('no answer'));
                return fallback(key, windowMs, max, cb);
              }
              cb({ current: res.current, ttlMs: res.ttl });
            },
            windowMs,
            max,
          );
        },
        close: () => local.close(),
      };
    },
    async close() {
      closing = true;
      clearTimeout(firstConnect);
      if (probe) clearInterval(probe), (probe = null);
      settleReady();
      redis.disconnect();
    },
  };
}
