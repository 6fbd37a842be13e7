// A startup check that the upstream accepts TCP connections. Only a warning: in a pod the app
// container often starts after (or slower than) the sidecar, and deliveries that arrive before it
// listens are answered 502 and released, so the provider's retry gets through (CONTRACT.md).
import { connect } from 'node:net';

/** Resolves null when a TCP connection to the URL's host and port opens within `timeoutMs`, else why not. */
export function probeTcp(url: URL, timeoutMs: number): Promise<string | null> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (why: string | null) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => done(`no connection within ${timeoutMs} ms`));
    socket.once('connect', () => done(null));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}
