// Where limit counts live: @fastify/rate-limit's own stores (a fixed window per key), behind one
// callback method that never fails. The plugin itself is not registered: its hook takes the tenant
// before verification (keyGenerator on onRequest), answers in its own format, and on a store error
// either fails the request or skips the limit (skipOnError); hookgate needs neither.
import { createRequire } from 'node:module';

export interface Hit {
  /** requests counted in this window, this one included */
  current: number;
  /** milliseconds until the window resets */
  ttlMs: number;
}

export interface LimitStore {
  /** Counts one request against `key` in a window of `windowMs`. Calls back exactly once, never with an error. */
  hit(key: string, windowMs: number, max: number, cb: (hit: Hit) => void): void;
  close(): Promise<void>;
}

type StoreCallback = (err: Error | null, res: { current: number; ttl: number } | null) => void;
interface RateLimitStore {
  incr(key: string, cb: StoreCallback, timeWindow: number, max: number): void;
}
type LocalStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, cache?: number) => RateLimitStore;
type RedisStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, redis: unknown, key?: string) => RateLimitStore;

// The stores are CommonJS files without type declarations of their own.
const require = createRequire(import.meta.url);
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as LocalStoreCtor;
/** Loaded with the first shared store only. */
export const redisStore = (): RedisStoreCtor => require('@fastify/rate-limit/store/RedisStore.js') as RedisStoreCtor;
export type { RateLimitStore };

/**
 * One replica's counts, in an LRU of `entries` keys. LocalStore answers synchronously, so the memory
 * path costs no promise and no tick. Once evicted, a key starts over: size it above the number of
 * addresses (or tenants) active in one window.
 */
export function memoryStore(entries: number): LimitStore {
  const store = new LocalStore(false, false, entries);
  return {
    hit(key, windowMs, max, cb) {
      store.incr(key, (_err, res) => cb({ current: res!.current, ttlMs: res!.ttl }), windowMs, max);
    },
    close: async () => undefined,
  };
}
