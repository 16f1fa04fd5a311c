// Minting a signed JWT with a shared secret: `realtime token` and the demo page's /demo/token.
import jwt from "jsonwebtoken";

export interface MintRequest {
  /** The sub claim. */
  userId: string;
  secret: string;
  /** HS256 unless given. */
  algorithm?: "HS256" | "HS384" | "HS512";
  ttlMs: number;
  roles?: string[];
  audience?: string;
  issuer?: string;
  /** For tests: the time of minting (ms since the epoch). */
  now?: number;
}

export interface MintedToken {
  token: string;
  /** When it expires (ISO 8601). */
  expiresAt: string;
}

/** Signs {sub, iat, exp, roles?, aud?, iss?}; exp is at least one second after iat. */
export function mintToken(r: MintRequest): MintedToken {
  const nowSec = Math.floor((r.now ?? Date.now()) / 1000);
  const exp = nowSec + Math.max(1, Math.round(r.ttlMs / 1000));
  const claims: Record<string, unknown> = { sub: r.userId, iat: nowSec, exp };
  if (r.roles?.length) claims.roles = r.roles;
  if (r.audience) claims.aud = r.audience;
  if (r.issuer) claims.iss = r.issuer;
  const token = jwt.sign(claims, r.secret, { algorithm: r.algorithm ?? "HS256" });
  return { token, expiresAt: new Date(exp * 1000).toISOString() };
}
