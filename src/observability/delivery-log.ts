// The one line a delivery (CONTRACT.md, Operations), in pino's own format, built by hand and written
// once an event-loop turn. Every request writes it, refusals included, so under a flood of forgeries
// it was a large share of an answer's cost: pino's generic serializer and a stream write a line
// (docs/benchmarks.md). Its fields are fixed and carry no secret: route, provider, tenant, outcome,
// key, attempt, status, ms.
import pino from 'pino';

export interface DeliveryFields {
  reqId: string;
  route: string | null;
  provider: string | null;
  tenant: string | null;
  outcome: string;
  key: string | null;
  attempt: number | null;
  status: number;
  ms: number;
}

export type DeliveryLog = (fields: DeliveryFields) => void;

/** Lines held past this many characters are written at once, not at the end of the turn. */
const HOLD_CHARS = 64 * 1024;
const INFO = 30;

interface PinoInternals {
  levelVal: number;
  [key: symbol]: unknown;
}

const S = pino.symbols;
const str = (s: string | null): string => (s === null ? 'null' : JSON.stringify(s));

// Lines of every delivery log not yet written; an exiting process writes them synchronously.
const pending = new Set<() => void>();
let exitHook = false;
function flushAllOnExit(): void {
  for (const flush of pending) flush();
}

/**
 * The delivery line's writer for `logger`. A pino logger (what `createLogger` makes) gets the hand-built
 * line on its own destination, byte for byte what `logger.info(fields, 'delivery')` writes; anything
 * else (a logger a caller brought) is called as usual.
 */
export function deliveryLog(logger: object): DeliveryLog {
  const log = logger as PinoInternals;
  const stream = log[S.streamSym] as { write(s: string): unknown; flushSync?: () => void } | undefined;
  const levels = log[S.lsCacheSym] as Record<number, string> | undefined;
  const time = log[S.timeSym] as (() => string) | undefined;
  const chindings = log[S.chindingsSym] as string | undefined;
  if (!stream || !levels || !time || chindings === undefined || log[S.mixinSym] || (log[S.formattersSym] as { log?: unknown } | undefined)?.log) {
    const child = (logger as { child(b: object, o?: object): { info(o: object, m: string): void } }).child({}, { redact: { paths: ['secret', 'secrets', 'body'], censor: '[redacted]' } });
    return (fields) => child.info(fields, 'delivery');
  }
  const start = levels[INFO]!;
  let held = '';
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    pending.delete(onExit);
    if (!held) return;
    const lines = held;
    held = '';
    stream.write(lines);
  };
  const onExit = (): void => {
    flush();
    try {
      stream.flushSync?.();
    } catch {
      // an asynchronous destination not yet open cannot be flushed synchronously; nothing more to do at exit
    }
  };
  if (!exitHook) {
    exitHook = true;
    process.on('exit', flushAllOnExit);
  }
  return function delivery(f) {
    if (log.levelVal > INFO) return;
    held += `${start}${time.call(log)}${chindings},"reqId":${str(f.reqId)},"route":${str(f.route)},"provider":${str(f.provider)},"tenant":${str(f.tenant)},"outcome":${str(f.outcome)},"key":${str(f.key)},"attempt":${f.attempt ?? 'null'},"status":${f.status},"ms":${Number.isFinite(f.ms) ? f.ms : 'null'},"msg":"delivery"}\n`;
    if (held.length > HOLD_CHARS) return flush();
    if (!scheduled) {
      scheduled = true;
      pending.add(onExit);
      setImmediate(flush);
    }
  };
}
