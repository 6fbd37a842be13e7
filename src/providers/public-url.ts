// The URL a URL-signed provider (twilio, square, hubspot) called. Behind an ingress the pod sees
// another scheme, host, port and often another path, so the route configures `publicUrl`
// (providers.md §2.4: configure a canonical public URL instead of trusting Host / X-Forwarded-*).
//
// How the request's query string combines with publicUrl:
//   - publicUrl without a query: publicUrl + the query string the request carried, byte for byte
//     (`?` included). This is the usual case, and the only one that works for Twilio JSON bodies,
//     whose URL carries a per-request `bodySHA256` parameter.
//   - publicUrl with a query: it is the complete URL, used as is; the request's query is ignored.
//   - publicUrl's path is always used as is (the ingress may rewrite paths).
//   - a fragment (`#…`) is never sent over HTTP, so it is cut here; schemes that may have signed it
//     (Twilio connection overrides) ask for it with `fragmentOf`.

/** The query string of a request target, with its `?`, or '' when there is none. */
export function requestQuery(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? '' : target.slice(q);
}

function withoutFragment(url: string): string {
  const h = url.indexOf('#');
  return h < 0 ? url : url.slice(0, h);
}

/** `#…` of publicUrl, or '' when it has none. */
export function fragmentOf(publicUrl: string): string {
  const h = publicUrl.indexOf('#');
  return h < 0 ? '' : publicUrl.slice(h);
}

/** The URL the provider signed, per the rules above. */
export function signedUrl(publicUrl: string, requestTarget: string): string {
  const base = withoutFragment(publicUrl);
  return base.includes('?') ? base : base + requestQuery(requestTarget);
}

/** Why verification cannot happen without publicUrl (the config layer requires it; this is the last guard). */
export const NO_PUBLIC_URL = 'the route has no publicUrl: this provider signs the URL it called, so verification needs the route\'s public URL';
