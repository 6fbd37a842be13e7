// A minimal OTLP/HTTP trace receiver on port 0 for the tracing tests: decodes what hookgate's
// exporter sends (ExportTraceServiceRequest in OTLP's JSON encoding), keeps every body as received.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  links?: { traceId: string; spanId: string }[];
  /** code 2: error */
  status?: { code?: number; message?: string };
  attributes: Record<string, string | number | boolean>;
  resource: Record<string, string | number | boolean>;
}

export interface Receiver {
  url: string;
  /** every request body, as received */
  bodies: string[];
  spans: OtlpSpan[];
  paths: string[];
  close(): Promise<void>;
}

type AnyValue = { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number };
const attrs = (list: { key: string; value: AnyValue }[] = []) =>
  Object.fromEntries(list.map(({ key, value }) => [key, value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.boolValue ?? value.doubleValue ?? '')]));

/** A minimal OTLP/HTTP collector: decodes ExportTraceServiceRequest in its JSON encoding. */
export async function startReceiver(): Promise<Receiver> {
  const r: Receiver = { url: '', bodies: [], spans: [], paths: [], close: () => new Promise((res) => (server.closeAllConnections(), server.close(() => res()))) };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      r.paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      r.bodies.push(text);
      const doc = JSON.parse(text) as { resourceSpans: { resource?: { attributes?: [] }; scopeSpans: { spans: (Omit<OtlpSpan, 'attributes' | 'resource'> & { attributes?: [] })[] }[] }[] };
      for (const rs of doc.resourceSpans ?? []) {
        const resource = attrs(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) r.spans.push({ ...s, attributes: attrs(s.attributes), resource });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}

