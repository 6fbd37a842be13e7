// Digests of the files a configuration was read from (the config file, every `file:` secret), so the
// reload watcher can tell whether what is on disk now is what is in force. Keyed with a random
// per-process key: a digest of a secret is then worthless outside this process (no offline guessing
// of a weak secret from a digest that reached a log or a heap dump).
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

const KEY = randomBytes(32);

export function contentDigest(content: Buffer): string {
  return createHmac('sha256', KEY).update(content).digest('hex');
}

/** The digest of a file's content read through any symlinks, or `missing:CODE` when it cannot be read. */
export function fileDigest(file: string): string {
  try {
    return contentDigest(readFileSync(file));
  } catch (err) {
    return `missing:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}
