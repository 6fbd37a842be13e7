// Live reload triggers: the config file and every `file:` secret change on disk.
//
// Kubernetes mounts a Secret or ConfigMap as a folder whose entries are symlinks into a timestamped
// folder: `key -> ..data/key`, `..data -> ..2026_11_28_10_00_00.123`. An update writes a new
// timestamped folder, points a temporary symlink at it and renames that over `..data` (one atomic
// rename), then deletes the old folder. A watch on the file itself follows the symlink to an inode
// that is about to be deleted and goes silent; a watch on the FOLDER sees the rename. So we watch
// each file's folder, and on any event there (debounced) compare the content hashes of the files we
// care about: only a real change of content triggers a reload, so unrelated churn in the same folder
// (an embedded ledger's WAL, an editor's swap file) costs a few small reads, not reloads.
// fs.watch is not reliable everywhere (network filesystems, some container runtimes), so a slow poll
// runs the same comparison as a safety net.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileDigest } from './digest.js';

export interface WatchLog {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface WatchOptions {
  /** the files whose content matters; asked again after every change (a reload may add or drop secret files) */
  files: () => readonly string[];
  /**
   * called (never twice at once) when the content of a file changed; `changed` lists the files. It may
   * resolve to the digests of what the reload it ran actually read (Loaded.digests), which then become
   * the baseline for those files.
   */
  onChange: (changed: string[]) => unknown;
  /**
   * Digests of the files as the configuration in force read them (Loaded.digests). Without it the
   * first baseline is whatever is on disk when the watcher starts, and a change that landed between
   * the load and that moment would never be noticed.
   */
  baseline?: ReadonlyMap<string, string>;
  /** quiet time after the last event before comparing (a kubelet swap is several events) */
  debounceMs?: number;
  /** safety-net poll interval; 0 disables it */
  pollMs?: number;
  log?: WatchLog;
}

export interface Watcher {
  /** compare now (used by the poll; exposed for tests and SIGHUP-style callers) */
  check(): Promise<void>;
  close(): void;
}

/** The keyed digest of the content read through any symlinks (src/config/digest.ts), or `missing:CODE`. */
export const contentHash = fileDigest;

function isDigests(v: unknown): v is ReadonlyMap<string, string> {
  return v instanceof Map;
}

/**
 * Whether an event on `name` in a watched folder may change a watched file: the file itself (an
 * editor's rename over it included), the kubelet's `..data`, `..data_tmp` and `..TIMESTAMP`
 * entries, or an event without a name (some platforms do not say).
 */
export function relevantEvent(watched: ReadonlySet<string> | undefined, name: string | null): boolean {
  return !name || name.startsWith('..') || (watched?.has(name) ?? false);
}

/** Runs `fn` one call at a time; calls arriving meanwhile collapse into one more run afterwards. */
export function serial<T>(fn: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  let queued: Promise<T> | null = null;
  const run = (): Promise<T> => {
    running = fn().finally(() => (running = null));
    return running;
  };
  return () => {
    if (!running) return run();
    queued ??= running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      queued = null;
      return run();
    });
    return queued;
  };
}

export function watchFiles(opts: WatchOptions): Watcher {
  const debounceMs = opts.debounceMs ?? 200;
  const pollMs = opts.pollMs ?? 30_000;
  const log = opts.log;
  let closed = false;
  let known = new Map<string, string>();
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  const warned = new Set<string>(); // one warning a folder, not one every poll

  const snapshot = (baseline?: ReadonlyMap<string, string>) => {
    known = new Map(opts.files().map((f) => [f, baseline?.get(f) ?? contentHash(f)]));
  };
  // After a reload: what the reload read is the baseline when it says so (a successful one); else files
  // already known keep the hash taken BEFORE the reload, so a change that landed during it is not
  // absorbed; files newly referenced get one now; dropped ones are forgotten.
  const adopt = (read?: ReadonlyMap<string, string>) => {
    const next = new Map<string, string>();
    for (const f of opts.files()) next.set(f, read?.get(f) ?? known.get(f) ?? contentHash(f));
    known = next;
  };

  // One watch a folder; folders no file lives in any more are let go.
  // Names that matter in each folder: the files themselves and the kubelet's `..data`, `..data_tmp`
  // and timestamped folders. Anything else (a ledger's WAL beside the config) must not keep
  // restarting the debounce under steady traffic.
  let names = new Map<string, Set<string>>();
  const relevant = (dir: string, name: string | null) => relevantEvent(names.get(dir), name);
  const rewatch = () => {
    names = new Map();
    for (const f of opts.files()) {
      const set = names.get(dirname(f)) ?? new Set<string>();
      set.add(basename(f));
      names.set(dirname(f), set);
    }
    const dirs = new Set(names.keys());
    for (const [dir, w] of watchers) if (!dirs.has(dir)) (w.close(), watchers.delete(dir));
    for (const dir of dirs) {
      if (watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => relevant(dir, name === null ? null : String(name)) && schedule());
        w.on('error', (err) => {
          // The folder went away (an unmounted volume): the poll keeps checking; the next change re-watches.
          log?.warn({ dir, err: { code: (err as NodeJS.ErrnoException).code, message: err.message } }, 'file watch failed; relying on the periodic check');
          w.close();
          watchers.delete(dir);
        });
        watchers.set(dir, w);
      } catch (err) {
        if (warned.has(dir)) continue;
        warned.add(dir);
        log?.warn({ dir, err: { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message } }, 'cannot watch folder; relying on the periodic check');
      }
    }
  };

  const compare = serial(async () => {
    if (closed) return;
    const changed: string[] = [];
    for (const [file, hash] of known) if (contentHash(file) !== hash) changed.push(file);
    if (!changed.length) return;
    log?.debug({ files: changed }, 'watched file changed');
    // Hash first, then reload: a change landing during the reload shows up as a difference next time.
    snapshot();
    let read: ReadonlyMap<string, string> | undefined;
    try {
      const result = await opts.onChange(changed);
      if (isDigests(result)) read = result;
    } finally {
      if (!closed) {
        adopt(read);
        rewatch();
      }
    }
  });

  function schedule() {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void compare(), debounceMs);
    timer.unref();
  }

  snapshot(opts.baseline);
  rewatch();
  const poll = pollMs > 0
    ? setInterval(() => {
        rewatch(); // picks up a folder whose watch failed earlier
        void compare();
      }, pollMs)
    : undefined;
  poll?.unref();

  return {
    check: compare,
    close() {
      closed = true;
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
