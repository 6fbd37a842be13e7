// GitLab (providers.md §3.11): the classic secret token arrives verbatim in `X-Gitlab-Token` (no body
// signature); the newer signing token is Standard Webhooks (`webhook-*` headers, `whsec_` secret).
// A route's secrets say what is required: a secret starting with `whsec_` is a signing token, any other a
// secret token. Each kind that is configured must verify (both, when GitLab is set up to send both); a
// header of a kind with no configured secret is ignored, since it cannot be checked.
import type { KeyObject } from 'node:crypto';
import { safeEqual, single, tokenDigest, verdict } from './primitives.js';
import { signStandard, standardKey, verifyStandard } from './standard.js';
import type { Scheme } from './types.js';

type GitlabKey = { signing: KeyObject; token?: undefined } | { token: Buffer; signing?: undefined };

const TOKEN = 'x-gitlab-token';
const NONE: readonly string[] = Object.freeze([]);
// a signing token is verified as Standard Webhooks; GitLab sends the webhook-* names
const SIGNED = Object.freeze({ body: true, headers: Object.freeze(['webhook-id', 'webhook-timestamp', 'svix-id', 'svix-timestamp']) });
const NONE_COVERED = Object.freeze({ body: false, headers: NONE });

export const gitlab: Scheme<GitlabKey> = {
  name: 'gitlab',
  // only with a signing token (Standard Webhooks); a secret token covers no header
  signedHeaders: ['webhook-id', 'webhook-timestamp', 'svix-id', 'svix-timestamp'],
  // a secret token signs nothing: only routes whose every secret list has a signing token sign the body
  signsBody: false,
  coverageWith: (keys) => (keys.some((k) => k?.signing !== undefined) ? SIGNED : NONE_COVERED),
  key(secret) {
    if (secret === '') throw new Error('the secret is empty');
    return secret.startsWith('whsec_') ? { signing: standardKey(secret) } : { token: tokenDigest(secret) };
  },
  verify(req, keys, opts, nowMs) {
    const signing = keys.flatMap((k, i) => (k.signing ? [{ k: k.signing, i }] : []));
    const tokens = keys.flatMap((k, i) => (k.token ? [{ k: k.token, i }] : []));
    let matched = -1;
    if (tokens.length > 0) {
      const h = single(req.headers, TOKEN);
      if (!h.ok) return h;
      // digests: a constant-time compare that does not reveal the token's length either
      const got = tokenDigest(h.value);
      let found = -1;
      for (const t of tokens) if (safeEqual(got, t.k) && found < 0) found = t.i;
      if (found < 0) return verdict(-1);
      matched = found;
    }
    if (signing.length > 0) {
      // webhook-id is signed (it equals GitLab's Idempotency-Key header, which is not): the verdict's id
      const v = verifyStandard(req.headers, req.body, signing.map((s) => s.k), opts.toleranceMs, nowMs);
      return v.ok ? { ...v, secretIndex: signing[v.secretIndex]!.i } : v;
    }
    // token only: the token signs nothing, so there is no id and the key is the digest of the body
    const v = verdict(matched);
    if (v.ok) v.headers = NONE;
    return v;
  },
  sign(input) {
    if (input.secret.startsWith('whsec_')) {
      const h = signStandard(input);
      return { ...h, 'idempotency-key': h['webhook-id']! };
    }
    return { [TOKEN]: input.secret, ...(input.id ? { 'idempotency-key': input.id } : {}) };
  },
};
