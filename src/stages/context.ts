// What the stages of one delivery learn, in order. Lives on the request as `request.hg`.
import type { Route } from '../config/load.js';
import type { Outcome } from '../errors.js';
import type { DeliveryTrace } from '../observability/tracing.js';

export interface Delivery {
  readonly route: Route;
  readonly startedAt: bigint;
  /** verification result code in monitor mode (`ok` or the failure code), for `hookgate-verdict` */
  verdict?: string;
  secretIndex?: number;
  signedId?: string;
  /** the signed timestamp (ms) of a timestamped scheme: the spool re-signs late deliveries */
  signedAt?: number;
  tenant?: string;
  key?: string;
  /** set once the ledger granted the claim */
  claim?: { token: string; attempt: number };
  /** a `spool` route: not in the LRU, and the accept claims the key in its own transaction */
  claimInAccept?: boolean;
  /** the claim's attempt, kept after the claim is settled (and cleared) for the delivery's log line */
  attempt?: number;
  outcome?: Outcome;
  /** a handshake forwarded unverified (src/stages/handshake.ts): its kind, sent as hookgate-handshake */
  handshake?: string;
  /** lazily parsed JSON body, shared by the stages that need it (undefined: not JSON) */
  json?: { value: unknown };
  /** the delivery's spans; only when tracing is on (src/observability/tracing.ts) */
  trace?: DeliveryTrace;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** null on requests that match no route */
    hg: Delivery | null;
  }
}
