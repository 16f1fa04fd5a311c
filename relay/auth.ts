// JWT verification with pinned algorithms. A token is never trusted without verification; `none`
// and algorithm confusion (an RS256 key used as an HMAC secret) cannot verify because the accepted
// algorithms are fixed by configuration, never read from the token.
import { createPublicKey, createSecretKey, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";
import { ConfigError, type Config } from "../lib/config.js";
import { RealtimeError } from "../protocol/index.js";

export interface Identity {
  userId: string;
  anonymous: boolean;
  roles: string[];
  /** Expiry in epoch seconds, when the token has one. */
  exp: number | undefined;
}

const HASURA_NAMESPACE = "https://hasura.io/jwt/claims";

function userIdFrom(claims: Record<string, unknown>): string | undefined {
  const hasura = claims[HASURA_NAMESPACE] as Record<string, unknown> | undefined;
  for (const candidate of [claims.sub, claims.userId, hasura?.["x-hasura-user-id"]]) {
    if (typeof candidate === "string" && candidate.length > 0) return candidate;
    if (typeof candidate === "number" && Number.isFinite(candidate)) return String(candidate);
  }
  return undefined;
}

function rolesFrom(claims: Record<string, unknown>): string[] {
  const roles = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === "string" && v.length > 0 && v.length <= 64) roles.add(v);
  };
  if (Array.isArray(claims.roles)) claims.roles.slice(0, 50).forEach(add);
  add(claims.role);
  const hasura = claims[HASURA_NAMESPACE] as Record<string, unknown> | undefined;
  if (hasura && typeof hasura === "object") {
    if (Array.isArray(hasura["x-hasura-allowed-roles"])) (hasura["x-hasura-allowed-roles"] as unknown[]).slice(0, 50).forEach(add);
    add(hasura["x-hasura-default-role"]);
  }
  return [...roles];
}

export class Authenticator {
  // Built once: given a string, jsonwebtoken would try to parse it as a public key (and throw)
  // on every verification before falling back to a secret.
  private readonly key: KeyObject | undefined;

  constructor(private readonly config: Config) {
    if (config.jwtPublicKey) {
      try {
        this.key = createPublicKey(config.jwtPublicKey);
      } catch (err) {
        throw new ConfigError("REALTIME_JWT_PUBLIC_KEY", `is not a PEM public key (${(err as Error).message})`);
      }
    } else if (config.jwtSecret) {
      this.key = createSecretKey(Buffer.from(config.jwtSecret));
    }
  }

  get canVerify(): boolean {
    return this.key !== undefined;
  }

  /** Verifies a token and returns the identity it proves; throws UNAUTHORIZED or TOKEN_EXPIRED. */
  verify(token: unknown): Identity {
    if (typeof token !== "string" || token.length === 0 || token.length > 8192) {
      throw new RealtimeError("UNAUTHORIZED", "token must be a non-empty string");
    }
    if (!this.key) throw new RealtimeError("UNAUTHORIZED", "this server accepts no tokens (anonymous only)");
    let claims: jwt.JwtPayload;
    try {
      const decoded = jwt.verify(token, this.key, {
        algorithms: this.config.jwtAlgorithms,
        audience: this.config.jwtAudience,
        issuer: this.config.jwtIssuer,
        clockTolerance: this.config.jwtClockToleranceSec,
      });
      if (typeof decoded === "string") throw new RealtimeError("UNAUTHORIZED", "token payload must be a JSON object");
      claims = decoded;
    } catch (err) {
      if (err instanceof RealtimeError) throw err;
      if (err instanceof jwt.TokenExpiredError) throw new RealtimeError("TOKEN_EXPIRED", "token expired");
      if (err instanceof jwt.NotBeforeError) throw new RealtimeError("UNAUTHORIZED", "token not valid yet");
      throw new RealtimeError("UNAUTHORIZED", `invalid token: ${(err as Error).message}`);
    }
    if (this.config.jwtRequireExp && typeof claims.exp !== "number") {
      throw new RealtimeError("UNAUTHORIZED", "token has no exp claim");
    }
    const userId = userIdFrom(claims as Record<string, unknown>);
    if (!userId) throw new RealtimeError("UNAUTHORIZED", "token names no user (sub, userId or x-hasura-user-id)");
    if (userId.length > 255 || /[\u0000-\u001f\u007f]/.test(userId)) {
      throw new RealtimeError("UNAUTHORIZED", "user id in token must be 1 to 255 printable characters");
    }
    return { userId, anonymous: false, roles: rolesFrom(claims as Record<string, unknown>), exp: claims.exp };
  }
}
