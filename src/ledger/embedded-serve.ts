// What the embedded ledger's worker thread runs on its port (embedded-worker.ts opens the connection):
// the ledger's batches, sweeps and pings, and the spool on the same connection once a spool asks for
// a port of its own. Messages are handled one at a time, in the order they were sent.
import type { MessagePort } from 'node:worker_threads';
import type { SqliteStore, Answer } from './embedded.js';
import { errSummary } from '../errors.js';
import type { Request, Reply } from './embedded-thread.js';
import { SqliteSpoolStore } from '../spool/store/sqlite.js';
import { serveSpool } from '../spool/store/sqlite-serve.js';

export function serveLedger(port: MessagePort, store: SqliteStore): void {
  // The spool on this connection, once a spool asks for a port (one store for every port: one group
  // commit queue, one synchronous setting).
  let spool: SqliteSpoolStore | undefined;

  port.on('message', (m: Request) => {
    let reply: Reply;
    try {
      switch (m.t) {
        case 'batch': {
          if (!spool) {
            reply = { id: m.id, ok: true, answers: store.run(m.ops, m.times) };
            break;
          }
          // committed with the spool's accepts of this turn (one sync to disk for both), or alone with
          // the ledger's own setting (FULL once a route spools)
          let answers: Answer[] = [];
          spool.ride({
            run: () => { answers = store.run(m.ops, m.times); },
            committed: () => port.postMessage({ id: m.id, ok: true, answers } satisfies Reply),
            failed: (err) => port.postMessage({ id: m.id, ok: false, error: errSummary(err) } satisfies Reply),
          });
          return;
        }
        case 'sweep':
          spool?.restore();
          reply = { id: m.id, ok: true, swept: store.sweep(m.now, m.batch, m.maxBatches) };
          break;
        case 'ping':
          store.ping();
          reply = { id: m.id, ok: true };
          break;
        case 'spool':
          spool ??= new SqliteSpoolStore(store.db, Date.now, false);
          serveSpool(m.port, spool);
          reply = { id: m.id, ok: true };
          break;
        case 'close':
          // accepts queued for this turn's group commit are committed first
          void spool?.close();
          store.close();
          port.postMessage({ id: m.id, ok: true } satisfies Reply);
          port.close();
          return;
      }
    } catch (err) {
      reply = { id: m.id, ok: false, error: errSummary(err) };
    }
    port.postMessage(reply);
  });
}
