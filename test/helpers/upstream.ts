// A real upstream on port 0 that records exactly what arrived (raw header pairs, body bytes).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: Buffer;
}

export type Respond = (r: Received, res: ServerResponse) => void | Promise<void>;

export interface Upstream {
  url: string;
  received: Received[];
  respond: Respond;
  close(): Promise<void>;
}

export async function startUpstream(respond: Respond = (_r, res) => void res.end('ok')): Promise<Upstream> {
  const up: Upstream = {
    url: '',
    received: [],
    respond,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks) };
      up.received.push(r);
      Promise.resolve(up.respond(r, res)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  up.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return up;
}

/** Writes `bytes` as the answer in pieces, as fast as the client takes them, then ends it. */
export function answerInPieces(res: ServerResponse, bytes: Buffer, piece = 65_536): void {
  let at = 0;
  const more = (): void => {
    while (at < bytes.length) {
      const part = bytes.subarray(at, at + piece);
      at += part.length;
      if (!res.write(part)) return void res.once('drain', more);
    }
    res.end();
  };
  more();
}
