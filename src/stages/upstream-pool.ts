// undici's Pool without the rest of undici. `import { Pool } from 'undici'` loads every dispatcher,
// fetch, WebSocket, the mocks and the cache (~20 MB of idle RSS); the forward path needs the pool and
// the request API, which undici's index mixes into Dispatcher.prototype (~11 MB). Same files, same
// module cache: when something else loads all of undici, this is the very same class.
import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
const api = require('undici/lib/api/index.js') as object;
// What undici's index.js does (Object.assign(Dispatcher.prototype, api)); idempotent.
Object.assign(Dispatcher.prototype, api);

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
export type Pool = UndiciPool;
