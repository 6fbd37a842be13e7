// What the embedded ledger's worker runs, served here on a MessageChannel in the test's thread (the
// worker itself is exercised by the ledger and spool suites; coverage is measured in this thread):
// batches, sweeps and pings answered by id; a cotenant (the spool) served on the same connection, whose
// accepts the ledger's batches ride with; close answers what is queued and closes the connection.
import t from 'tap';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { SqliteStore, type Answer, type Op } from '../../src/ledger/embedded.js';
import { openMigratedSqlite } from '../../src/ledger/sqlite-connection.js';
import { serveLedger } from '../../src/ledger/embedded-serve.js';
import type { Reply } from '../../src/ledger/embedded-thread.js';
import { ThreadedSqliteSpool } from '../../src/spool/store/sqlite-thread.js';
import type { SpoolStore } from '../../src/spool/store/types.js';

const dir = mkdtempSync(join(tmpdir(), 'hookgate-serve-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function served() {
  const store = new SqliteStore(openMigratedSqlite({ url: `embedded:${join(dir, `${randomUUID()}.db`)}`, migrate: true, synchronous: 'full' }));
  const { port1, port2 } = new MessageChannel();
  serveLedger(port2, store);
  const waiting = new Map<number, (r: Reply) => void>();
  port1.on('message', (r: Reply) => waiting.get(r.id)?.(r));
  let next = 1;
  const ask = (m: Record<string, unknown>, transfer?: MessagePort[]) => new Promise<Reply>((resolve) => {
    const id = next++;
    waiting.set(id, resolve);
    port1.postMessage({ ...m, id }, transfer);
  });
  return { store, port1, ask };
}

/** The embedded spool's cotenant module, as spool/store/index.ts names it. */
const SPOOL_MODULE = new URL('../../src/spool/store/sqlite-serve.js', import.meta.url).href;

const times = () => ({ now: Date.now(), leaseMs: 30_000, retentionMs: 60_000 });
const claim = (key: string, token = randomUUID()): Op => ({ op: 'claim', key, token });

t.test('batches, sweeps and pings are answered by id', async (t) => {
  const { store, port1, ask } = served();
  t.teardown(() => port1.close());
  const r = await ask({ t: 'batch', ops: [claim('a'), claim('b')], times: times() });
  t.match(r, { ok: true, answers: [{ ok: true, value: { state: 'claimed' } }, { ok: true, value: { state: 'claimed' } }] });
  t.match(await ask({ t: 'sweep', now: Date.now() + 120_000, batch: 10, maxBatches: 2 }), { ok: true, swept: 2 }, 'expired rows swept');
  t.match(await ask({ t: 'ping' }), { ok: true });
  store.db.close();
  t.match(await ask({ t: 'ping' }), { ok: false, error: { message: /not open/ } }, 'an error is an answer, not a crash');
});

t.test('a cotenant module that cannot be loaded: the attach is answered with its error, the ledger goes on', async (t) => {
  const { port1, ask } = served();
  t.teardown(() => port1.close());
  const channel = new MessageChannel();
  t.teardown(() => channel.port1.close());
  t.match(await ask({ t: 'attach', port: channel.port2, module: new URL('./no-such-module.js', import.meta.url).href }, [channel.port2]), { ok: false, error: { message: /Cannot find module|no-such-module/ } });
  t.match(await ask({ t: 'batch', ops: [claim('after')], times: times() }), { ok: true, answers: [{ ok: true, value: { state: 'claimed' } }] });
});

t.test('a spool port on the same connection: accepts answered on it, the ledger\'s batches of the turn ride with them, close answers what is queued', async (t) => {
  const { store, port1, ask } = served();
  const channel = new MessageChannel();
  t.match(await ask({ t: 'attach', port: channel.port2, module: SPOOL_MODULE }, [channel.port2]), { ok: true });
  const spool = new ThreadedSqliteSpool(() => Promise.resolve(channel.port1)) as unknown as SpoolStore;
  t.teardown(() => spool.close());

  const token = randomUUID();
  const [claimed] = (await ask({ t: 'batch', ops: [claim('k1', token)], times: times() }) as { answers: Answer[] }).answers;
  t.match(claimed, { ok: true, value: { state: 'claimed' } });
  const accepted = spool.accept({ key: 'k1', ledgerToken: token, acceptStatus: 202, retentionMs: 60_000, route: '/r', tenant: 'acme', dispatchOwner: null, leaseMs: 30_000, method: 'POST', path: '/r', headers: ['a', 'b'], body: Buffer.from('{}'), meta: null });
  const riding = ask({ t: 'batch', ops: [claim('k2')], times: times() });
  t.match(await accepted, { state: 'spooled' });
  t.match(await riding, { ok: true, answers: [{ ok: true, value: { state: 'claimed' } }] }, 'a batch sent beside the accept');
  t.match(await ask({ t: 'batch', ops: [claim('k1')], times: times() }), { ok: true, answers: [{ ok: true, value: { state: 'done', status: 202 } }] }, 'the ledger sees the accept');
  t.match(await spool.get('k1'), { state: 'pending', tenant: 'acme' });

  const queued = spool.accept({ key: 'k3', ledgerToken: randomUUID(), acceptStatus: 202, retentionMs: 60_000, route: '/r', tenant: 'acme', dispatchOwner: null, leaseMs: 30_000, method: 'POST', path: '/r', headers: [], body: Buffer.alloc(0), meta: null }).then((r) => r.state, (e: { code?: string }) => e.code);
  const closed = await ask({ t: 'close' });
  t.match(closed, { ok: true });
  // On two ports, the accept may reach the worker before or after close: either way it is answered.
  const answer = await queued;
  t.ok(answer === 'lost' || answer === 'ledger_unavailable', `an accept sent beside close is answered (${answer}), not left waiting`);
  t.notOk(store.db.open, 'the connection is closed');
  port1.close();
});
