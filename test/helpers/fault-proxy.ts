// A small TCP proxy between node-postgres and PostgreSQL that injects the failures CockroachDB and
// flaky networks produce, so the ledger's retry and ambiguity paths run for real:
//   - answer a chosen statement with an ErrorResponse (40001, 40003, …) instead of forwarding it,
//     or forward it and replace the server's answer with the error (the write landed, the client
//     is told it failed: CockroachDB's "result is ambiguous");
//   - forward a chosen statement, let it commit, and cut the connection before the answer reaches
//     the client;
//   - refuse or drop every connection for a while.
// It understands just enough of the PostgreSQL wire protocol (protocol 3.0, "Message Formats"):
// the untyped startup message, then typed messages (1 byte type, int32 length including itself).
// Statements are matched by a substring of the text of a simple Query ('Q') or of a Parse ('P');
// node-postgres sends parameterised queries as Parse/Bind/Describe/Execute/Sync, and a named
// (prepared) statement only Bind/Execute/Sync after its first Parse on a connection: a Bind of a
// statement parsed earlier on the connection counts as that statement again.
import net from 'node:net';

export type FaultAction =
  /** answer with this SQLSTATE; `after`: run the statement first, then replace its answer */
  | { kind: 'error'; code: string; message?: string; after?: boolean }
  /** run the statement, wait for its ReadyForQuery (it committed), then cut the client's connection */
  | { kind: 'cut-after' };

export interface FaultRule {
  /** substring of the statement text */
  match: string;
  /** the Nth matching statement (1-based, counted across connections) is the first one faulted */
  occurrence?: number;
  /** how many matching statements in a row, from `occurrence` on (default 1) */
  times?: number;
  action: FaultAction;
}

export interface RuleHandle {
  /** matching statements seen so far */
  readonly seen: number;
  /** faults injected so far */
  readonly fired: number;
  remove(): void;
}

interface ActiveRule extends FaultRule { seen: number; fired: number }

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

export function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.concat([
    field('S', 'ERROR'), field('V', 'ERROR'), field('C', code), field('M', message), Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write('E', 0, 'latin1');
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

function field(type: string, value: string): Buffer {
  return Buffer.concat([Buffer.from(type, 'latin1'), Buffer.from(value, 'utf8'), Buffer.from([0])]);
}

export const readyForQuery = (status: 'I' | 'T' | 'E' = 'I'): Buffer => Buffer.from([0x5a, 0, 0, 0, 5, status.charCodeAt(0)]);

const DEFAULT_MESSAGES: Record<string, string> = {
  '40001': 'restart transaction: TransactionRetryWithProtoRefreshError: injected by the fault proxy (RETRY_SERIALIZABLE)',
  '40003': 'result is ambiguous (injected by the fault proxy)',
};

/** Splits a byte stream into protocol messages; `untyped` for the startup phase. */
class MessageReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(public untyped: boolean) {}
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      const head = this.untyped ? 0 : 1;
      if (this.buf.length < head + 4) break;
      const len = this.buf.readInt32BE(head);
      const total = head + len;
      if (this.buf.length < total) break;
      out.push(this.buf.subarray(0, total));
      this.buf = this.buf.subarray(total);
    }
    return out;
  }
}

function cstring(buf: Buffer, offset: number): [string, number] {
  const end = buf.indexOf(0, offset);
  return [buf.toString('utf8', offset, end), end + 1];
}

/** A Bind's prepared statement name ('' for the unnamed statement). */
function bindStatement(msg: Buffer): string {
  const [, next] = cstring(msg, 5); // portal name
  return cstring(msg, next)[0];
}

/** A Parse's statement name ('' for the unnamed statement). */
function parseName(msg: Buffer): string {
  return cstring(msg, 5)[0];
}

/** The statement text of a 'Q' or 'P' message, else undefined. */
function statementText(msg: Buffer): string | undefined {
  const type = String.fromCharCode(msg[0]!);
  if (type === 'Q') return cstring(msg, 5)[0];
  if (type === 'P') {
    const [, next] = cstring(msg, 5); // statement name
    return cstring(msg, next)[0];
  }
  return undefined;
}

export class FaultProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private rules: ActiveRule[] = [];
  private mode: 'up' | 'drop' | 'refuse' = 'up';
  private downTimer: NodeJS.Timeout | undefined;
  /** connections accepted (and forwarded) so far */
  connections = 0;
  /** every statement text seen, in order (tests read it to prove a path ran) */
  readonly statements: string[] = [];

  private constructor(private readonly target: { host: string; port: number }, public port = 0) {
    this.server = net.createServer((c) => this.accept(c));
  }

  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const p = new FaultProxy(target);
    await p.listen();
    return p;
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  /** The same PostgreSQL URL, pointing at the proxy. */
  url(base: string): string {
    const u = new URL(base);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  addRule(rule: FaultRule): RuleHandle {
    const r: ActiveRule = { occurrence: 1, times: 1, ...rule, seen: 0, fired: 0 };
    this.rules.push(r);
    return {
      get seen() { return r.seen; },
      get fired() { return r.fired; },
      remove: () => { this.rules = this.rules.filter((x) => x !== r); },
    };
  }

  clearRules(): void {
    this.rules = [];
  }

  /** How many seen statements contain `fragment`. */
  count(fragment: string): number {
    return this.statements.filter((s) => s.includes(fragment)).length;
  }

  /**
   * Takes the database away: `refuse` closes the listening socket (ECONNREFUSED), `drop` accepts and
   * closes at once (connection reset). Live connections are cut either way. Back after `ms`, or on `up()`.
   */
  async down(mode: 'drop' | 'refuse', ms?: number): Promise<void> {
    this.mode = mode;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (mode === 'refuse') await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (ms !== undefined) {
      this.downTimer = setTimeout(() => void this.up(), ms);
      this.downTimer.unref();
    }
  }

  async up(): Promise<void> {
    if (this.downTimer) clearTimeout(this.downTimer);
    this.downTimer = undefined;
    const was = this.mode;
    this.mode = 'up';
    if (was === 'refuse') await this.listen();
  }

  async close(): Promise<void> {
    if (this.downTimer) clearTimeout(this.downTimer);
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pick(text: string): FaultAction | undefined {
    let action: FaultAction | undefined;
    for (const r of this.rules) {
      if (!text.includes(r.match)) continue;
      r.seen++;
      const first = r.occurrence ?? 1;
      if (!action && r.seen >= first && r.seen < first + (r.times ?? 1)) {
        r.fired++;
        action = r.action;
      }
    }
    return action;
  }

  private accept(client: net.Socket): void {
    if (this.mode !== 'up') {
      client.destroy();
      return;
    }
    this.connections++;
    const server = net.connect(this.target.port, this.target.host);
    // one write per protocol message: without this, Nagle and delayed ACKs add ~40 ms stalls
    client.setNoDelay(true);
    server.setNoDelay(true);
    this.sockets.add(client);
    this.sockets.add(server);
    const end = () => {
      client.destroy();
      server.destroy();
      this.sockets.delete(client);
      this.sockets.delete(server);
    };
    client.on('error', end).on('close', end);
    server.on('error', end).on('close', end);

    const fromClient = new MessageReader(true);
    const fromServer = new MessageReader(false);
    let serverSingleByte = false; // the answer to SSLRequest/GSSENCRequest is one untyped byte
    let swallowing: FaultAction | undefined; // faking an error for the current extended batch
    let capture: FaultAction | undefined; // replacing the server's answer to the current batch
    const prepared = new Map<string, string>(); // named statements parsed on this connection
    let parsedInBatch = false; // the current batch's Bind belongs to a Parse already counted

    client.on('data', (chunk: Buffer) => {
      for (const msg of fromClient.push(chunk)) {
        if (fromClient.untyped) {
          const code = msg.readInt32BE(4);
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) serverSingleByte = true;
          else fromClient.untyped = false; // StartupMessage: typed messages from now on
          server.write(msg);
          continue;
        }
        const type = String.fromCharCode(msg[0]!);
        if (swallowing) {
          // The real server, after an error in an extended batch, discards until Sync, then answers
          // ReadyForQuery.
          if (type === 'S') {
            const a = swallowing as Extract<FaultAction, { kind: 'error' }>;
            client.write(Buffer.concat([errorResponse(a.code, a.message ?? DEFAULT_MESSAGES[a.code] ?? 'injected'), readyForQuery('I')]));
            swallowing = undefined;
          }
          continue;
        }
        if (type === 'S') parsedInBatch = false;
        let text = statementText(msg);
        if (type === 'P' && text !== undefined) {
          parsedInBatch = true;
          const name = parseName(msg);
          if (name) prepared.set(name, text);
        } else if (type === 'B' && !parsedInBatch) {
          text = prepared.get(bindStatement(msg));
        }
        if (text !== undefined) {
          this.statements.push(text);
          const action = this.pick(text);
          if (action?.kind === 'error' && !action.after) {
            if (type === 'Q') {
              client.write(Buffer.concat([errorResponse(action.code, action.message ?? DEFAULT_MESSAGES[action.code] ?? 'injected'), readyForQuery('I')]));
            } else {
              swallowing = action;
            }
            continue;
          }
          if (action) capture = action;
        }
        server.write(msg);
      }
    });

    server.on('data', (chunk: Buffer) => {
      if (serverSingleByte) {
        serverSingleByte = false;
        client.write(chunk.subarray(0, 1));
        chunk = chunk.subarray(1);
        if (!chunk.length) return;
      }
      for (const msg of fromServer.push(chunk)) {
        if (!capture) {
          client.write(msg);
          continue;
        }
        // Hold back the whole answer to the faulted statement; ReadyForQuery ends it, and by then
        // an autocommit statement has committed.
        if (msg[0] !== 0x5a) continue;
        const a = capture;
        capture = undefined;
        if (a.kind === 'cut-after') {
          end();
          return;
        }
        client.write(Buffer.concat([errorResponse(a.code, a.message ?? DEFAULT_MESSAGES[a.code] ?? 'injected'), readyForQuery('I')]));
      }
    });
  }
}

/**
 * A fault proxy in front of the tests' PostgreSQL at `pgUrl`, an admin pool beside it, and `schema(tag)`
 * for a fresh schema dropped with the rest at the file's end: the set-up of the fault-proxy suites.
 */
export async function proxiedPostgres(t: { teardown(fn: () => unknown): void }, pgUrl: string, schemaName: (tag: string) => string): Promise<{ proxy: FaultProxy; admin: import('pg').Pool; schema(tag: string): string }> {
  const { default: pg } = await import('pg');
  const u = new URL(pgUrl);
  const proxy = await FaultProxy.start({ host: u.hostname, port: Number(u.port || 5432) });
  const admin = new pg.Pool({ connectionString: pgUrl, max: 2 });
  const schemas: string[] = [];
  t.teardown(async () => {
    await proxy.close();
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => {});
    await admin.end();
  });
  return { proxy, admin, schema: (tag) => (schemas.push(schemaName(tag)), schemas.at(-1)!) };
}
