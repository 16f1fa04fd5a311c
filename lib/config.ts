// Turns the environment (and a .env file in the working directory) into one typed, frozen object.
// A bad value stops start-up with one line naming the variable and what is wrong.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import dotenv from "dotenv";

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}

export const EVENT_LOG_TYPES = [
  "connect",
  "disconnect",
  "error",
  "message",
  "join",
  "leave",
  "presence",
  "typing",
] as const;
export type EventLogType = (typeof EVENT_LOG_TYPES)[number];

export const JWT_ALGORITHMS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

export interface Config {
  /** Undefined: the embedded PostgreSQL (see lib/embedded.ts). */
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** Prefix of the Redis channels, so several clusters can share one Redis. */
  redisPrefix: string;
  /** Undefined: same-origin only. */
  corsOrigins: string[] | undefined;
  port: number;
  host: string;
  maxConnections: number;
  jwtSecret: string | undefined;
  jwtPublicKey: string | undefined;
  jwtAlgorithms: JwtAlgorithm[];
  jwtAudience: string | undefined;
  jwtIssuer: string | undefined;
  jwtRequireExp: boolean;
  jwtClockToleranceSec: number;
  allowAnonymous: boolean;
  enablePresence: boolean;
  enableTyping: boolean;
  typingTimeoutMs: number;
  presenceHeartbeatMs: number;
  presenceGraceMs: number;
  /** Idle-to-away: a user with no client event on any connection for this long shows away (0: off). */
  idleAfterMs: number;
  /** A relay with no heartbeat for this long is dead: its connections are closed. */
  staleAfterMs: number;
  inactiveAfterMs: number;
  logLevel: string;
  /** auto (readable lines on a TTY, JSON otherwise), pretty or json. */
  logFormat: "auto" | "pretty" | "json";
  logEvents: boolean;
  logEventTypes: EventLogType[];
  eventRetentionMs: number;
  autoCreateRooms: boolean;
  maxPayloadBytes: number;
  /**
   * Limits set in the environment, to be written to the database at start (lib/limits.ts):
   * REALTIME_MAX_MESSAGE_LENGTH, kept for existing set-ups. Empty when unset.
   */
  limitsFromEnv: { maxMessageLength?: number };
  /** How often a relay re-reads the database's limits (realtime_limits()), ms. */
  limitsRefreshMs: number;
  rateLimitPerSec: number;
  rateLimitBurst: number;
  /** Refused events a socket may collect (refilled at rateLimitPerSec) before it is disconnected. */
  rateStrikes: number;
  presenceRateLimitPerSec: number;
  typingRateLimitPerSec: number;
  /** A repeated typing:start within this many ms of the last accepted one is answered without SQL. */
  typingThrottleMs: number;
  /** Open connections per user, across all relays (checked in realtime_register_connections). */
  maxConnectionsPerUser: number;
  maxRoomsPerSocket: number;
  /** presence:get answers: "rooms" (what presence:changed would show the connection) or "all". */
  presenceVisibility: "rooms" | "all";
  replayLimit: number;
  /** synchronous_commit of the relay's database sessions (see Db). */
  dbSynchronousCommit: boolean;
  /**
   * Message batches commit with synchronous_commit = on (set for their transaction only), so an
   * acknowledged message survives a database crash whatever dbSynchronousCommit says.
   */
  durableMessages: boolean;
  dbPoolSize: number;
  /**
   * Database calls of one kind (messages, typing, joins, handshakes) in flight at once, each
   * carrying a natural batch; items of one room (or user) always share a lane, so they keep their order.
   */
  batchLanes: number;
  /** How long presence changes wait to go out together: one frame per room per tick, ms (0: next turn of the event loop). */
  presenceTickMs: number;
  /** How long start-up waits for a database that is starting or refusing connections, ms. */
  dbWaitMs: number;
  /** statement_timeout of the relay's pooled sessions, ms (0: the role's or server's setting). */
  dbStatementTimeoutMs: number;
  /** lock_timeout of the relay's pooled sessions, ms (0: the role's or server's setting): a call waiting longer for a lock answers BUSY. */
  dbLockTimeoutMs: number;
  /** idle_in_transaction_session_timeout of the relay's pooled sessions, ms (0: the role's or server's setting). */
  dbIdleTxTimeoutMs: number;
  nodeId: string;
  dataDir: string;
  embeddedPort: number;
  demo: boolean;
  /** Let the demo page mint tokens with REALTIME_JWT_SECRET (development only). */
  demoTokens: boolean;
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return def;
  const v = raw.toLowerCase();
  if (["true", "1", "yes", "on"].includes(v)) return true;
  if (["false", "0", "no", "off"].includes(v)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function oneOf<const T extends readonly string[]>(env: Env, name: string, values: T, def: T[number]): T[number] {
  const raw = str(env, name);
  if (raw === undefined) return def;
  const v = raw.toLowerCase();
  if (!(values as readonly string[]).includes(v)) throw new ConfigError(name, `must be one of ${values.join(", ")}, got "${raw}"`);
  return v as T[number];
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, "is not a valid URL");
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.map((p) => p + "//").join(" or ")}`);
  }
  return raw;
}

/** Reads .env from the working directory (never overriding the real environment). */
export function loadDotEnv(cwd = process.cwd()): void {
  const file = path.join(cwd, ".env");
  if (fs.existsSync(file)) dotenv.config({ path: file, quiet: true });
}

export function defaultDataDir(env: Env = process.env): string {
  const explicit = str(env, "REALTIME_DATA_DIR");
  if (explicit) return path.resolve(explicit);
  return path.resolve(".realtime");
}

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const databaseUrl = url(env, "DATABASE_URL", ["postgres:", "postgresql:"]);
  const redisUrl = url(env, "REALTIME_REDIS_URL", ["redis:", "rediss:"]);

  const corsRaw = str(env, "REALTIME_CORS_ORIGIN");
  let corsOrigins: string[] | undefined;
  if (corsRaw !== undefined) {
    // An origin is scheme://host[:port], exactly as a browser sends it: "localhost:3000" would parse
    // as a URL with the scheme "localhost:" and never match, so it is refused here.
    corsOrigins = corsRaw.split(",").map((s) => s.trim().replace(/\/$/, "")).filter(Boolean);
    for (const origin of corsOrigins) {
      if (origin === "*") continue;
      let parsed: URL | undefined;
      try {
        parsed = new URL(origin);
      } catch {
        parsed = undefined;
      }
      if (!parsed || !["http:", "https:"].includes(parsed.protocol) || parsed.origin !== origin) {
        throw new ConfigError("REALTIME_CORS_ORIGIN", `"${origin}" is not an origin like http://localhost:3000 (scheme, host and port only; or *)`);
      }
    }
  }

  const jwtSecret = str(env, "REALTIME_JWT_SECRET");
  let jwtPublicKey = str(env, "REALTIME_JWT_PUBLIC_KEY");
  const keyFile = str(env, "REALTIME_JWT_PUBLIC_KEY_FILE");
  if (!jwtPublicKey && keyFile) {
    try {
      jwtPublicKey = fs.readFileSync(keyFile, "utf8");
    } catch (err) {
      throw new ConfigError("REALTIME_JWT_PUBLIC_KEY_FILE", `cannot be read (${(err as Error).message})`);
    }
  }
  if (jwtPublicKey) jwtPublicKey = jwtPublicKey.replace(/\\n/g, "\n");
  if (jwtSecret && jwtSecret.length < 16) {
    throw new ConfigError("REALTIME_JWT_SECRET", "must be at least 16 characters");
  }

  const algRaw = str(env, "REALTIME_JWT_ALGORITHMS");
  let jwtAlgorithms: JwtAlgorithm[];
  if (algRaw) {
    jwtAlgorithms = algRaw.split(",").map((s) => s.trim().toUpperCase()) as JwtAlgorithm[];
    for (const alg of jwtAlgorithms) {
      if (!(JWT_ALGORITHMS as readonly string[]).includes(alg)) {
        throw new ConfigError("REALTIME_JWT_ALGORITHMS", `"${alg}" is not one of ${JWT_ALGORITHMS.join(", ")}`);
      }
    }
  } else if (jwtPublicKey) {
    jwtAlgorithms = jwtPublicKey.includes("EC PUBLIC KEY") ? ["ES256"] : ["RS256"];
  } else {
    jwtAlgorithms = ["HS256"];
  }
  const hmac = jwtAlgorithms.some((a) => a.startsWith("HS"));
  const asym = jwtAlgorithms.some((a) => !a.startsWith("HS"));
  if (hmac && asym) {
    throw new ConfigError("REALTIME_JWT_ALGORITHMS", "cannot mix HMAC (HS*) and public-key algorithms");
  }
  if (asym && !jwtPublicKey) {
    throw new ConfigError("REALTIME_JWT_PUBLIC_KEY", `is required for ${jwtAlgorithms.join(", ")}`);
  }

  const logLevel = (str(env, "LOG_LEVEL") ?? "info").toLowerCase();
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) {
    throw new ConfigError("LOG_LEVEL", `must be one of fatal, error, warn, info, debug, trace, silent; got "${logLevel}"`);
  }

  const typesRaw = str(env, "REALTIME_LOG_EVENT_TYPES") ?? "connect,disconnect,error";
  const logEventTypes = typesRaw.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean) as EventLogType[];
  for (const t of logEventTypes) {
    if (!(EVENT_LOG_TYPES as readonly string[]).includes(t)) {
      throw new ConfigError("REALTIME_LOG_EVENT_TYPES", `"${t}" is not one of ${EVENT_LOG_TYPES.join(", ")}`);
    }
  }

  const presenceHeartbeatMs = int(env, "REALTIME_PRESENCE_HEARTBEAT", 30_000, 1_000, 3_600_000);
  const nodeId = str(env, "REALTIME_NODE_ID") ?? `${os.hostname()}-${process.pid}`;
  if (nodeId.length > 128) throw new ConfigError("REALTIME_NODE_ID", "must be at most 128 characters");

  const config: Config = {
    databaseUrl,
    redisUrl,
    redisPrefix: str(env, "REALTIME_REDIS_PREFIX") ?? "realtime",
    corsOrigins,
    port: int(env, "REALTIME_PORT", 3101, 0, 65535),
    host: str(env, "REALTIME_HOST") ?? "0.0.0.0",
    maxConnections: int(env, "REALTIME_MAX_CONNECTIONS", 10_000, 1, 10_000_000),
    jwtSecret,
    jwtPublicKey,
    jwtAlgorithms,
    jwtAudience: str(env, "REALTIME_JWT_AUDIENCE"),
    jwtIssuer: str(env, "REALTIME_JWT_ISSUER"),
    jwtRequireExp: bool(env, "REALTIME_JWT_REQUIRE_EXP", true),
    jwtClockToleranceSec: int(env, "REALTIME_JWT_CLOCK_TOLERANCE", 5, 0, 300),
    allowAnonymous: bool(env, "REALTIME_ALLOW_ANONYMOUS", false),
    enablePresence: bool(env, "REALTIME_ENABLE_PRESENCE", true),
    enableTyping: bool(env, "REALTIME_ENABLE_TYPING", true),
    typingTimeoutMs: int(env, "REALTIME_TYPING_TIMEOUT", 3_000, 100, 600_000),
    presenceHeartbeatMs,
    presenceGraceMs: int(env, "REALTIME_PRESENCE_GRACE", 5_000, 0, 3_600_000),
    idleAfterMs: int(env, "REALTIME_IDLE_AFTER", 0, 0, 86_400_000),
    staleAfterMs: int(env, "REALTIME_STALE_AFTER", 2 * presenceHeartbeatMs, 1_000, 86_400_000),
    inactiveAfterMs: int(env, "REALTIME_INACTIVE_AFTER", Math.max(300_000, 4 * presenceHeartbeatMs), 2_000, 86_400_000),
    logLevel,
    logFormat: oneOf(env, "LOG_FORMAT", ["auto", "pretty", "json"] as const, "auto"),
    logEvents: bool(env, "REALTIME_LOG_EVENTS", true),
    logEventTypes,
    eventRetentionMs: int(env, "REALTIME_EVENT_RETENTION", 7 * 86_400_000, 60_000, 3650 * 86_400_000),
    autoCreateRooms: bool(env, "REALTIME_AUTO_CREATE_ROOMS", false),
    maxPayloadBytes: int(env, "REALTIME_MAX_PAYLOAD", 64 * 1024, 1024, 16 * 1024 * 1024),
    limitsFromEnv:
      str(env, "REALTIME_MAX_MESSAGE_LENGTH") === undefined
        ? {}
        : { maxMessageLength: int(env, "REALTIME_MAX_MESSAGE_LENGTH", 10_000, 1, 100_000) },
    limitsRefreshMs: int(env, "REALTIME_LIMITS_REFRESH", 60_000, 100, 3_600_000),
    rateLimitPerSec: int(env, "REALTIME_RATE_LIMIT", 50, 1, 100_000),
    rateLimitBurst: int(env, "REALTIME_RATE_BURST", 100, 1, 1_000_000),
    rateStrikes: 0, // set below: defaults to twice the burst
    presenceRateLimitPerSec: int(env, "REALTIME_PRESENCE_RATE_LIMIT", 2, 1, 10_000),
    typingRateLimitPerSec: int(env, "REALTIME_TYPING_RATE_LIMIT", 10, 1, 10_000),
    typingThrottleMs: 0, // set below: at most half the typing timeout
    maxConnectionsPerUser: int(env, "REALTIME_MAX_CONNECTIONS_PER_USER", 20, 1, 100_000),
    maxRoomsPerSocket: int(env, "REALTIME_MAX_ROOMS_PER_SOCKET", 500, 1, 100_000),
    presenceVisibility: oneOf(env, "REALTIME_PRESENCE_VISIBILITY", ["rooms", "all"] as const, "rooms"),
    replayLimit: int(env, "REALTIME_REPLAY_LIMIT", 100, 1, 1000),
    dbSynchronousCommit: bool(env, "REALTIME_DB_SYNCHRONOUS_COMMIT", false),
    durableMessages: bool(env, "REALTIME_DURABLE_MESSAGES", true),
    dbPoolSize: int(env, "REALTIME_DB_POOL_SIZE", 20, 1, 500),
    batchLanes: int(env, "REALTIME_BATCH_LANES", 4, 1, 64),
    presenceTickMs: int(env, "REALTIME_PRESENCE_TICK", 50, 0, 5000),
    dbWaitMs: int(env, "REALTIME_DB_WAIT", 30_000, 0, 3_600_000),
    dbStatementTimeoutMs: int(env, "REALTIME_STATEMENT_TIMEOUT", 30_000, 0, 3_600_000),
    dbLockTimeoutMs: int(env, "REALTIME_LOCK_TIMEOUT", 2000, 0, 3_600_000),
    dbIdleTxTimeoutMs: int(env, "REALTIME_IDLE_TX_TIMEOUT", 10_000, 0, 3_600_000),
    nodeId,
    dataDir: defaultDataDir(env),
    embeddedPort: int(env, "REALTIME_EMBEDDED_PG_PORT", 54329, 1, 65535),
    demo: bool(env, "REALTIME_DEMO", env.NODE_ENV !== "production"),
    demoTokens: bool(env, "REALTIME_DEMO_TOKENS", false),
  };
  config.rateStrikes = int(env, "REALTIME_RATE_STRIKES", 2 * config.rateLimitBurst, 1, 10_000_000);
  // A throttled start must not outlive the indicator it would have refreshed.
  const maxThrottle = Math.floor(config.typingTimeoutMs / 2);
  config.typingThrottleMs = int(env, "REALTIME_TYPING_THROTTLE", Math.min(1_000, maxThrottle), 0, 600_000);
  if (config.typingThrottleMs > maxThrottle) {
    throw new ConfigError("REALTIME_TYPING_THROTTLE", `must be at most half of REALTIME_TYPING_TIMEOUT (${maxThrottle} ms), got ${config.typingThrottleMs}`);
  }
  if (config.idleAfterMs > 0 && config.idleAfterMs < 2 * config.presenceHeartbeatMs) {
    // Client activity reaches the database with each heartbeat.
    throw new ConfigError("REALTIME_IDLE_AFTER", `must be 0 (off) or at least twice REALTIME_PRESENCE_HEARTBEAT (${2 * config.presenceHeartbeatMs} ms)`);
  }
  return Object.freeze(config);
}

/** Checks that the relay can authenticate: a secret or key, or anonymous mode. */
export function assertAuthConfigured(config: Config): void {
  if (!config.jwtSecret && !config.jwtPublicKey && !config.allowAnonymous) {
    throw new ConfigError(
      "REALTIME_JWT_SECRET",
      "is not set: set REALTIME_JWT_SECRET (or REALTIME_JWT_PUBLIC_KEY), or REALTIME_ALLOW_ANONYMOUS=true for read-only anonymous access",
    );
  }
}
