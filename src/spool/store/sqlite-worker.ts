// The embedded spool's SQLite connection, in a worker thread (sqlite-thread.ts is its front). Each
// message is one call of a SqliteSpoolStore method; the store's own group commit still gathers the
// accepts that arrive together into one transaction, and its synchronous=FULL disk sync runs here,
// beside the event loop that serves requests instead of inside it.
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteSpool, type SqliteSpoolStore } from './sqlite.js';
import { toBuffers, wireError, type SpoolCall, type SpoolReply } from './sqlite-thread.js';

const port = parentPort!;
const { url, busyTimeoutMs } = workerData as { url: string; busyTimeoutMs: number };

let store: SqliteSpoolStore | undefined;
try {
  store = openSqliteSpool(url, busyTimeoutMs);
  port.postMessage({ id: 0, ok: true } satisfies SpoolReply);
} catch (err) {
  port.postMessage({ id: 0, ok: false, error: wireError(err) } satisfies SpoolReply);
}

port.on('message', (m: SpoolCall) => {
  const call = (store as unknown as Record<string, ((...a: unknown[]) => Promise<unknown>) | undefined> | undefined)?.[m.method];
  const answer = call ? Promise.resolve().then(() => call.apply(store, toBuffers(m.args) as unknown[])) : Promise.reject(new Error('the embedded spool could not be opened'));
  answer.then(
    (value) => port.postMessage({ id: m.id, ok: true, value } satisfies SpoolReply),
    (err: unknown) => port.postMessage({ id: m.id, ok: false, error: wireError(err) } satisfies SpoolReply),
  );
});
