// What the embedded ledger's worker thread runs on its port (embedded-worker.ts opens the connection):
// the ledger's batches, sweeps and pings, and a cotenant on the same connection (the embedded spool)
// once one asks for a port of its own. Messages are handled one at a time, in the order they were sent.
import type { MessagePort } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { SqliteStore, Answer } from './embedded.js';
import { errSummary } from '../errors.js';
import type { Request, Reply } from './embedded-thread.js';

/** The ledger's batch, run inside a cotenant's transaction. */
export interface Rider {
  /** its statements; must not throw for one operation's error (answers carry those) */
  run(): void;
  /** after the commit: answer */
  committed(): void;
  /** the transaction failed as a whole: nothing of it applied */
  failed(err: unknown): void;
}

/**
 * A store that shares this worker's connection: the embedded spool (src/spool/store/sqlite-serve.ts),
 * loaded by its module's URL so that the ledger imports nothing from the layers above it. Two
 * connections writing one file would take turns at SQLite's lock, whose busy handler sleeps.
 */
export interface Cotenant {
  /** answers its own calls on `port` */
  serve(port: MessagePort): void;
  /** the ledger's batch, committed in the cotenant's next transaction: one sync to disk for both */
  ride(r: Rider): void;
  /** the connection's own synchronous setting again, before the ledger writes on its own */
  restore(): void;
  /** commits what it has queued */
  close(): unknown;
}

/** What a cotenant's module exports. */
export type OpenCotenant = (db: Database.Database) => Cotenant;

export function serveLedger(port: MessagePort, store: SqliteStore): void {
  // One cotenant for every port it serves: one group commit queue, one synchronous setting.
  let cotenant: Cotenant | undefined;
  let opening: Promise<Cotenant> | undefined;

  port.on('message', (m: Request) => {
    let reply: Reply;
    try {
      switch (m.t) {
        case 'batch': {
          if (!cotenant) {
            reply = { id: m.id, ok: true, answers: store.run(m.ops, m.times) };
            break;
          }
          // committed with the cotenant's writes of this turn, or alone with the ledger's own setting
          // (FULL once a route spools)
          let answers: Answer[] = [];
          cotenant.ride({
            run: () => { answers = store.run(m.ops, m.times); },
            committed: () => port.postMessage({ id: m.id, ok: true, answers } satisfies Reply),
            failed: (err) => port.postMessage({ id: m.id, ok: false, error: errSummary(err) } satisfies Reply),
          });
          return;
        }
        case 'sweep':
          cotenant?.restore();
          reply = { id: m.id, ok: true, swept: store.sweep(m.now, m.batch, m.maxBatches) };
          break;
        case 'ping':
          store.ping();
          reply = { id: m.id, ok: true };
          break;
        case 'attach': {
          const { id, port: theirs } = m;
          opening ??= import(m.module).then((mod: { openCotenant: OpenCotenant }) => (cotenant = mod.openCotenant(store.db)));
          opening.then(
            (c) => {
              c.serve(theirs);
              port.postMessage({ id, ok: true } satisfies Reply);
            },
            (err: unknown) => port.postMessage({ id, ok: false, error: errSummary(err) } satisfies Reply),
          );
          return;
        }
        case 'close':
          // what the cotenant queued for this turn's commit is committed first
          void cotenant?.close();
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
