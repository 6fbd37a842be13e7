// `hookgate spool …`: the spool's admin verbs straight on the ledger database (no replica needs to
// run). A route is named by its `path` as written in the config; a delivery by its id (ls shows it).
import { ConfigError, loadConfigFile, type Config } from '../config/load.js';
import { openSpoolStore } from '../spool/store/index.js';
import type { SpoolStore } from '../spool/store/types.js';
import { parseFilter } from '../spool/admin.js';
import { parsePace, redactHeaders } from '../spool/admin.js';
import type { Io } from './main.js';

export const SPOOL_USAGE = `usage: hookgate spool VERB --config FILE
  stats                                   counts per route, tenant and state; oldest pending; paused routes
  ls [--state S] [--route R] [--tenant T] [--since 2h] [--until TIME] [--limit N] [--cursor C]
                                          newest first; when more follow, the last line is
                                          "next: --cursor C" (the same filter with it lists the next page)
  show ID [--bytes]                       one delivery (--bytes: the request, signature headers redacted)
  replay ID                               deliver again now (any state but delivering)
  replay --state S [--route R] [--tenant T] [--since 2h] [--per-second N] [--dry-run]
                                          replay all that match, oldest first, N a second (default 100)
  cancel ID                               a pending or dead delivery becomes cancelled
  pause ROUTE [--tenant T] / resume ROUTE [--tenant T]                 stop / restart deliveries
`;

export interface SpoolArgs {
  state?: string | undefined;
  route?: string | undefined;
  tenant?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  limit?: string | undefined;
  cursor?: string | undefined;
  'per-second'?: string | undefined;
  'dry-run'?: boolean | undefined;
  bytes?: boolean | undefined;
}

export async function spoolCommand(file: string, positionals: string[], args: SpoolArgs, io: Io): Promise<number> {
  const [verb, target] = positionals;
  const usage = (why: string) => (io.err(`hookgate spool: ${why}\n${SPOOL_USAGE}`), 2);
  if (!verb) return usage('a verb is required');
  let config: Config;
  try {
    config = loadConfigFile(file, io.env).config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`${file}: invalid\n`);
    for (const p of err.problems) io.err(`  ${p}\n`);
    return 1;
  }
  const q: Record<string, unknown> = {};
  for (const k of ['state', 'route', 'tenant', 'since', 'until', 'limit', 'cursor'] as const) if (args[k] !== undefined) q[k] = args[k];
  const filter = parseFilter(q, Date.now());
  if (typeof filter === 'string') return usage(`--${filter}`);
  const pace = parsePace(args['per-second']);
  if (typeof pace === 'string') return usage(`--per-second: ${pace.slice(pace.indexOf(':') + 2)}`);

  let store: SpoolStore;
  try {
    store = await openSpoolStore({ url: config.ledger.url, ...(config.ledger.schema ? { schema: config.ledger.schema } : {}) });
  } catch (err) {
    io.err(`hookgate spool: cannot open the ledger database: ${(err as Error).message}\n`);
    return 1;
  }
  const out = (v: unknown) => io.out(`${JSON.stringify(v)}\n`);
  try {
    switch (verb) {
      case 'stats': {
        const s = await store.stats();
        for (const c of s.counts) io.out(`${c.route}\t${c.tenant}\t${c.state}\t${c.n}\n`);
        for (const o of s.oldestPendingMs) io.out(`oldest pending on ${o.route}: ${Math.round(o.ms / 1000)} s\n`);
        for (const p of s.paused) io.out(`paused: ${p.route}${p.tenant === '*' ? '' : ` (tenant ${p.tenant})`}\n`);
        return 0;
      }
      case 'ls': {
        const page = await store.page(filter);
        for (const d of page.deliveries) {
          io.out(`${d.id}\t${d.state}\t${d.attempts}\t${d.lastStatus ?? '-'}\t${d.route}\t${d.tenant}\t${new Date(d.receivedAt).toISOString()}\t${d.key}\n`);
        }
        if (page.next) io.out(`next: --cursor ${page.next}\n`);
        return 0;
      }
      case 'show': {
        if (!target) return usage('show needs an ID (see ls)');
        const d = await store.byId(target, !!args.bytes);
        if (!d) return (io.err(`hookgate spool: no delivery ${target}\n`), 1);
        const { request, ...row } = d;
        out(request ? { ...row, request: { ...request, headers: redactHeaders(request.headers), body: request.body.toString('base64') } } : row);
        return 0;
      }
      case 'replay': {
        if (target) {
          if (await store.replay(target)) return (out({ replayed: target }), 0);
          return (io.err(`hookgate spool: ${target} is not there or is being delivered now\n`), 1);
        }
        if (!filter.state && !filter.route && filter.since === undefined) return usage('replay needs an ID or a filter (--state, --route, --since)');
        out({ count: await store.replayMany(filter, !!args['dry-run'], pace), dryRun: !!args['dry-run'] });
        return 0;
      }
      case 'cancel': {
        if (!target) return usage('cancel needs an ID');
        const row = await store.byId(target, false);
        const keep = config.routes.find((r) => r.path === row?.route)?.spool?.keepDeadMs ?? 7 * 86_400_000;
        if (await store.cancel(target, keep)) return (out({ cancelled: target }), 0);
        return (io.err(`hookgate spool: ${target} is not a pending or dead delivery\n`), 1);
      }
      case 'pause':
      case 'resume': {
        const spooled = config.routes.filter((r) => r.delivery !== 'sync').map((r) => r.path);
        if (!target || !spooled.includes(target)) return usage(`${verb} needs the path of a spool route as written in the config (${spooled.join(', ') || 'none'})`);
        const tenant = args.tenant ?? '*';
        if (verb === 'pause') await store.pause(target, tenant);
        else await store.resume(target, tenant);
        out({ route: target, tenant, paused: verb === 'pause' });
        return 0;
      }
      default:
        return usage(`unknown verb ${JSON.stringify(verb)}`);
    }
  } catch (err) {
    io.err(`hookgate spool ${verb}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}
