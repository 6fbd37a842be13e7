// The worker's side of the threaded spool (sqlite-thread.ts): each message on the port is the calls of
// one turn of SqliteSpoolStore methods, answered on the same port. Used by the spool's own worker
// (sqlite-worker.ts) and by the embedded ledger's worker, which serves the spool on its connection as
// its cotenant (src/ledger/embedded-serve.ts).
import type { MessagePort } from 'node:worker_threads';
import { SqliteSpoolStore } from './sqlite.js';
import type { OpenCotenant } from '../../ledger/embedded-serve.js';
import { METHODS, toBuffers, wireError, type SpoolCall, type SpoolReply } from './sqlite-thread.js';

const ALLOWED = new Set<string>(METHODS);

export function serveSpool(port: MessagePort, store: SqliteSpoolStore | undefined): void {
  // the answers ready in one turn go back as one message (an accept batch's all together)
  let outbox: SpoolReply[] = [];
  const reply = (r: SpoolReply) => {
    if (outbox.push(r) > 1) return;
    setImmediate(() => {
      const out = outbox;
      outbox = [];
      port.postMessage(out);
    });
  };
  port.on('message', (calls: SpoolCall[]) => {
    for (const m of calls) {
      const call = store && ALLOWED.has(m.method) ? (store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[m.method] : undefined;
      const answer = call ? Promise.resolve().then(() => call.apply(store, toBuffers(m.args) as unknown[])) : Promise.reject(new Error('the embedded spool could not be opened'));
      answer.then(
        (value) => reply({ id: m.id, ok: true, value }),
        (err: unknown) => reply({ id: m.id, ok: false, error: wireError(err) }),
      );
    }
  });
}

/** The spool as the embedded ledger worker's cotenant, on the ledger's connection (which it does not close). */
export const openCotenant: OpenCotenant = (db) => {
  const store = new SqliteSpoolStore(db, Date.now, false);
  return { serve: (port) => serveSpool(port, store), ride: (r) => store.ride(r), restore: () => store.restore(), close: () => store.close() };
};
