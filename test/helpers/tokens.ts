// JWTs for the tests, one secret per way a relay is started: in-process (startRelay), as a child
// process (spawnRelay), and by the CLI.
import jwt from "jsonwebtoken";

/** The secret of in-process relays (relay.ts). */
export const JWT_SECRET = "relay-e2e-test-secret-0123456789";
/** The secret of relays spawned as processes (processes.ts). */
export const CLUSTER_SECRET = "cluster-test-secret-0123456789";
/** The secret the CLI tests give the CLI (test/cli/run.ts). */
export const CLI_JWT_SECRET = "cli-test-secret-0123456789abcdef";

export interface TokenOptions {
  /** Default JWT_SECRET. */
  secret?: string;
  /** Seconds from now; null: no exp claim. Default one hour. */
  expiresIn?: number | null;
  algorithm?: jwt.Algorithm;
}

/** A signed JWT for userId (as sub; null: no sub) with extra claims. */
export function token(userId: string | null, claims: Record<string, unknown> = {}, opts: TokenOptions = {}): string {
  const payload: Record<string, unknown> = { ...claims };
  if (userId !== null) payload.sub = userId;
  const expiresIn = opts.expiresIn === undefined ? 3600 : opts.expiresIn;
  if (expiresIn !== null && payload.exp === undefined) payload.exp = Math.floor(Date.now() / 1000) + expiresIn;
  return jwt.sign(payload, opts.secret ?? JWT_SECRET, { algorithm: opts.algorithm ?? "HS256" });
}

/** A token for a relay spawned as a process (CLUSTER_SECRET). */
export function clusterToken(userId: string, claims: Record<string, unknown> = {}): string {
  return token(userId, claims, { secret: CLUSTER_SECRET });
}
