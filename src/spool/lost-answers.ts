// What a replica must remember when the database goes away mid-statement (dispatcher.ts): claims
// (and accepts) whose answer was lost may have landed, leaving rows `delivering` under a token only
// this replica knows; settles that failed leave delivered rows leased. Both are resolved when the
// database answers again, so that those deliveries are neither delayed nor sent twice by a lease.
// Past its lease an entry is dropped: another replica may take the rows over, fenced either way.
import type { Claimed, Settle, SpoolStore } from './store/types.js';

export type SettledRow = Pick<Claimed, 'keyHash' | 'owner' | 'key' | 'route' | 'tenant'>;

export class LostAnswers {
  private readonly unsure: Array<{ route: string; keyHashes: Buffer[]; owner: string; until: number }> = [];
  private readonly unsettled: Array<{ row: SettledRow; how: Settle; until: number }> = [];

  constructor(private readonly store: SpoolStore, private readonly now: () => number) {}

  /** a claim or accept of `keyHashes` under `owner` failed without an answer */
  claimed(route: string, keyHashes: Buffer[], owner: string, until: number): void {
    this.unsure.push({ route, keyHashes, owner, until });
  }

  /** a settle failed; `row` keeps no bytes */
  settleFailed(row: Claimed, how: Settle, until: number): void {
    const { keyHash, owner, key, route, tenant } = row;
    this.unsettled.push({ row: { keyHash, owner, key, route, tenant }, how, until });
  }

  /** Writes the failed settles, in order; throws (keeping the rest) while the database is away. */
  async resettle(settled: (row: SettledRow, how: Settle, ok: boolean) => void): Promise<void> {
    while (this.unsettled.length) {
      const u = this.unsettled[0]!;
      if (u.until > this.now()) settled(u.row, u.how, await this.store.settle(u.row.keyHash, u.row.owner, u.how));
      this.unsettled.shift();
    }
  }

  /** One last try at each failed settle (shutdown); errors are dropped. */
  async lastResettle(settled: (row: SettledRow, how: Settle, ok: boolean) => void): Promise<void> {
    while (this.unsettled.length) {
      const u = this.unsettled.shift()!;
      await this.store.settle(u.row.keyHash, u.row.owner, u.how).then((ok) => settled(u.row, u.how, ok), () => {});
    }
  }

  /**
   * The rows of lost claim answers that turned out to be ours, per route (`live`: whether the route
   * still spools; a gone route's rows are taken over later). Throws while the database is away.
   */
  async held(live: (route: string) => boolean): Promise<Array<{ route: string; rows: Claimed[] }>> {
    const out: Array<{ route: string; rows: Claimed[] }> = [];
    while (this.unsure.length) {
      const u = this.unsure[0]!;
      const rows = live(u.route) && u.until > this.now() ? await this.store.held(u.keyHashes, u.owner) : [];
      this.unsure.shift();
      if (rows.length) out.push({ route: u.route, rows });
    }
    return out;
  }
}
