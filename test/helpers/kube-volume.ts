// A folder laid out the way the kubelet mounts a Secret or ConfigMap (atomic writer):
//   ..2026_11_28_10_00_00.000000001/KEY   the data, one timestamped folder a version
//   ..data -> ..2026_11_28_10_00_00.000000001
//   KEY -> ..data/KEY                      what the app opens
// An update writes a new timestamped folder, points `..data_tmp` at it, renames that over `..data`
// (one atomic rename) and deletes the old folder, exactly in that order.
import { mkdirSync, writeFileSync, symlinkSync, renameSync, rmSync, existsSync, readlinkSync, lstatSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface KubeVolume {
  dir: string;
  /** the path an app would configure for a key */
  path(key: string): string;
  /** replace every key's content atomically; keys not given disappear */
  update(data: Record<string, string>): void;
}

let serial = 0;
const stamp = () => {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.${p(process.pid % 1000, 3)}${p(++serial, 6)}`;
};

export function kubeVolume(dir: string, data: Record<string, string>): KubeVolume {
  mkdirSync(dir, { recursive: true });
  const vol: KubeVolume = {
    dir,
    path: (key) => join(dir, key),
    update(next) {
      const folder = stamp();
      mkdirSync(join(dir, folder));
      for (const [k, v] of Object.entries(next)) writeFileSync(join(dir, folder, k), v);
      const old = existsSync(join(dir, '..data')) ? readlinkSync(join(dir, '..data')) : null;
      symlinkSync(folder, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      // User-visible links: added for new keys, removed for keys that went away.
      for (const k of Object.keys(next)) if (!existsSync(join(dir, k))) symlinkSync(join('..data', k), join(dir, k));
      if (old) {
        for (const k of Object.keys(current)) if (!(k in next)) {
          try {
            if (lstatSync(join(dir, k)).isSymbolicLink()) unlinkSync(join(dir, k));
          } catch { /* already gone */ }
        }
        rmSync(join(dir, old), { recursive: true, force: true });
      }
      current = next;
    },
  };
  let current: Record<string, string> = {};
  vol.update(data);
  return vol;
}
