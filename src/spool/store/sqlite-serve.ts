// The worker's side of the threaded spool (sqlite-thread.ts): each message on the port is one call of
// a SqliteSpoolStore method, answered on the same port. Used by the spool's own worker
// (sqlite-worker.ts) and by the embedded ledger's worker, which serves the spool on its connection as
// its cotenant (src/ledger/embedded-serve.ts).
import type { MessagePort } from 'node:worker_threads';
import { SqliteSpoolStore } from './sqlite.js';
import type { OpenCotenant } from '../../ledger/embedded-serve.js';
import { METHODS, toBuffers, wireError, type SpoolCall, type SpoolReply } from './sqlite-thread.js';

const ALLOWED = new Set<string>(METHODS);

export function serveSpool(port: MessagePort, store: SqliteSpoolStore | undefined): void {
  port.on('message', (m: SpoolCall) => {
    const call = store && ALLOWED.has(m.method) ? (store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[m.method] : undefined;
    const answer = call ? Promise.resolve().then(() => call.apply(store, toBuffers(m.args) as unknown[])) : Promise.reject(new Error('the embedded spool could not be opened'));
    answer.then(
      (value) => port.postMessage({ id: m.id, ok: true, value } satisfies SpoolReply),
      (err: unknown) => port.postMessage({ id: m.id, ok: false, error: wireError(err) } satisfies SpoolReply),
    );
  });
}

/** The spool as the embedded ledger worker's cotenant, on the ledger's connection (which it does not close). */
export const openCotenant: OpenCotenant = (db) => {
  const store = new SqliteSpoolStore(db, Date.now, false);
  return { serve: (port) => serveSpool(port, store), ride: (r) => store.ride(r), restore: () => store.restore(), close: () => store.close() };
};
