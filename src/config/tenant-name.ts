// The one alphabet of tenant names, wherever a name comes from (a literal, a path parameter, a header,
// a signed body field, a limits key). Names travel in the hookgate-tenant header, in metric labels and
// in the idempotency key, so they stay printable and never contain the key's separator.
export const TENANT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const TENANT_RULE = "1-128 letters, digits, '.', '_' or '-', starting with a letter or digit";

