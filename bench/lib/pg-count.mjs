// Preloaded into the gateway process by bench:ledger (`node --import ./bench/lib/pg-count.mjs …`):
// counts the statements node-postgres sends, by their `/* hookgate:NAME */` tag, and answers the
// counts over IPC. Every statement is one round trip: this is "round trips per delivery".
import pg from 'pg';

const counts = Object.create(null);
const TAG = /\/\* hookgate:([a-z_]+) \*\//;
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(config, ...rest) {
  const text = typeof config === 'string' ? config : config?.text;
  const name = (typeof text === 'string' && TAG.exec(text)?.[1]) || 'other';
  counts[name] = (counts[name] ?? 0) + 1;
  return original.call(this, config, ...rest);
};
process.on('message', (m) => {
  if (m?.type === 'pg-counts') process.send({ type: 'pg-counts', counts: { ...counts } });
});
// The IPC channel must not keep a draining gateway alive.
process.channel?.unref();
