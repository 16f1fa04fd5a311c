// Tokens: a string or a function the SDK calls for a fresh one (on every connect and before expiry).
// The expiry is read from the JWT's payload without verifying it: only the server verifies.

export type TokenSource = string | (() => string | Promise<string>);

export async function resolveToken(source: TokenSource | undefined): Promise<string | undefined> {
  if (source === undefined) return undefined;
  return typeof source === "function" ? await source() : source;
}

function base64UrlDecode(part: string): string {
  let b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  while (b64.length % 4 !== 0) b64 += "=";
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/** The `exp` (seconds since the epoch) and `iat` of a JWT, or undefined when it has none or is not a JWT. */
export function tokenTimes(token: string | undefined): { exp?: number; iat?: number } {
  if (!token) return {};
  const parts = token.split(".");
  if (parts.length !== 3) return {};
  try {
    const payload = JSON.parse(base64UrlDecode(parts[1])) as { exp?: unknown; iat?: unknown };
    return {
      exp: typeof payload.exp === "number" && Number.isFinite(payload.exp) ? payload.exp : undefined,
      iat: typeof payload.iat === "number" && Number.isFinite(payload.iat) ? payload.iat : undefined,
    };
  } catch {
    return {};
  }
}

/**
 * When to ask for a fresh token, in ms from now: a quarter of the token's lifetime before it expires
 * (at most 60 s before, at least 1 s), or undefined for a token without exp.
 */
export function refreshDelayMs(token: string | undefined, now = Date.now()): number | undefined {
  const { exp, iat } = tokenTimes(token);
  if (exp === undefined) return undefined;
  const expMs = exp * 1000;
  const lifetime = iat !== undefined && iat < exp ? expMs - iat * 1000 : Math.max(expMs - now, 0);
  const lead = Math.min(60_000, Math.max(1000, lifetime / 4));
  return Math.max(0, expMs - now - lead);
}
