// /readyz is unauthenticated and may be polled by anyone who reaches the admin listener: the ledger
// ping behind it is shared and cached, so a burst of calls costs one database round trip, and an
// outage still shows within `ttlMs` (kubelet probes run every 10 s by default; one second is fresh).

/** `notReady` (null: ready) reported to hookgate_ready and hookgate_readiness_changes_total at each call. */
export function observedReadiness(notReady: () => Promise<string | null>, m: { ready: { set(v: number): void }; readinessChanges: { inc(): void } }): () => Promise<string | null> {
  let last: boolean | undefined;
  return async () => {
    const why = await notReady();
    const ready = why === null;
    if (last !== undefined && last !== ready) m.readinessChanges.inc();
    last = ready;
    m.ready.set(ready ? 1 : 0);
    return why;
  };
}

/** `check` run at most once per `ttlMs`; callers in the meantime share its answer (or the one in flight). */
export function cachedCheck<T>(check: () => Promise<T>, ttlMs: number, now: () => number = Date.now): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | null = null;
  return () => {
    const t = now();
    if (last && t - last.at < ttlMs) return last.value;
    const value = check();
    last = { at: t, value };
    // Measured from the answer, not the question: a slow ping is not followed at once by another.
    void value.then(() => {
      if (last?.value === value) last.at = now();
    }, () => {
      if (last?.value === value) last.at = now();
    });
    return value;
  };
}
