// Checks shared by init and status: configuration summary (secrets masked), database, Redis, server.
import type { Config } from "../../lib/config.js";
import type { NodeStatus } from "../../lib/sql/admin.js";
import { runningEmbedded, withDbAt } from "./database.js";
import { formatDuration } from "./duration.js";
import type { DbTarget } from "./errors.js";
import { maskSecret, maskUrl } from "../../lib/mask.js";
import { checkRedis, type RedisCheck } from "./redis.js";
import { baseUrl, listServers, pidFile, probeHealth, serverName } from "./server.js";

export function describeJwt(config: Readonly<Config>): string {
  const algs = config.jwtAlgorithms.join(", ");
  if (config.jwtPublicKey) return `${algs} with a public key`;
  if (config.jwtSecret) return `${algs}, REALTIME_JWT_SECRET ${maskSecret(config.jwtSecret)}`;
  if (!config.databaseUrl) return "development secret in the data directory (embedded mode, no REALTIME_JWT_SECRET)";
  if (config.allowAnonymous) return "no secret or key: anonymous read-only connections only";
  return "not configured: set REALTIME_JWT_SECRET (the server refuses to start without it)";
}

/** The configuration as rows of [label, value], nothing secret in them. */
export function configSummary(config: Readonly<Config>, embeddedPort = config.embeddedPort): Record<string, string> {
  return {
    database: config.databaseUrl
      ? maskUrl(config.databaseUrl)
      : `embedded PostgreSQL (port ${embeddedPort}, data in ${config.dataDir})`,
    redis: config.redisUrl ? maskUrl(config.redisUrl) : "not set (single node, in-memory adapter)",
    listen: `${config.host}:${config.port}`,
    jwt: describeJwt(config),
    anonymous: config.allowAnonymous ? "allowed (read-only)" : "not allowed",
    cors: config.corsOrigins ? config.corsOrigins.join(", ") : "same-origin only",
    presence: config.enablePresence ? `enabled (heartbeat ${formatDuration(config.presenceHeartbeatMs)})` : "disabled",
    typing: config.enableTyping ? `enabled (timeout ${formatDuration(config.typingTimeoutMs)})` : "disabled",
    "event log": config.logEvents
      ? `${config.logEventTypes.join(", ")} (kept ${formatDuration(config.eventRetentionMs)})`
      : "disabled",
    "max connections": String(config.maxConnections),
    "data dir": config.dataDir,
  };
}

export interface DatabaseCheck {
  url: string | null;
  embedded: boolean;
  /** The running embedded PostgreSQL's port (from the URL the running server uses). */
  port?: number;
  reachable: boolean;
  running?: boolean;
  server?: string;
  schemaVersion?: string | null;
  /** The relay nodes the database knows, each judged alive in SQL by its own declared stale-after. */
  nodes?: NodeStatus[];
  error?: string;
}

export async function checkDatabase(config: Readonly<Config>): Promise<DatabaseCheck> {
  let target: DbTarget;
  if (config.databaseUrl) {
    target = { url: config.databaseUrl, embedded: false };
  } else {
    const url = await runningEmbedded(config);
    if (!url) {
      return { url: null, embedded: true, reachable: false, running: false, error: "embedded database not running (it starts with the server)" };
    }
    target = { url, embedded: true };
  }
  const result: DatabaseCheck = { url: maskUrl(target.url), embedded: target.embedded, reachable: false };
  if (target.embedded) result.port = Number(new URL(target.url).port);
  const { schemaVersion } = await import("../../lib/migrate.js");
  const { listNodes, serverVersion } = await import("../../lib/sql/admin.js");
  try {
    await withDbAt(target, async (db) => {
      result.server = `PostgreSQL ${await serverVersion(db)}`;
      result.reachable = true;
      result.schemaVersion = await schemaVersion(db.pool);
      if (result.schemaVersion !== null) result.nodes = await listNodes(db);
    });
  } catch (err) {
    result.error = (err as Error).message;
  }
  return result;
}

export interface RedisStatus extends Partial<RedisCheck> {
  configured: boolean;
}

export async function checkRedisConfigured(config: Readonly<Config>): Promise<RedisStatus> {
  if (!config.redisUrl) return { configured: false };
  return { configured: true, ...(await checkRedis(config.redisUrl)) };
}

export interface ServerCheck {
  /** The server's name (REALTIME_NODE_ID, or port-<port>); null for something that answers on REALTIME_PORT without a pid file here. */
  name: string | null;
  running: boolean;
  pid: number | null;
  pidFile: string;
  url: string;
  /** The embedded PostgreSQL's port, when this server runs it. */
  embeddedPort: number | null;
  /** True while a server's process runs but it has not recorded its URL yet (still starting). */
  starting: boolean;
  health: { status: number; body?: Record<string, unknown> } | null;
  error?: string;
}

async function probe(url: string): Promise<Pick<ServerCheck, "health" | "error">> {
  const p = await probeHealth(`${url}/health`, 1500);
  return { health: p.answered ? { status: p.status!, body: p.body } : null, ...(p.answered ? {} : { error: p.error }) };
}

/**
 * Every server running from this data directory (found by its pid file; its URL comes from the
 * state file it writes, so another shell needs none of its settings), plus whatever answers on
 * REALTIME_PORT when no server here claims that port. Never empty: with nothing running, the
 * one entry says so for REALTIME_PORT.
 */
export async function checkServers(config: Readonly<Config>): Promise<ServerCheck[]> {
  const running = listServers(config).filter((s) => s.pid !== null);
  const checks = await Promise.all(
    running.map(async (s): Promise<ServerCheck> => {
      const url = s.state?.url ?? baseUrl(config);
      return {
        name: s.name,
        running: true,
        pid: s.pid,
        pidFile: s.pidFile,
        url,
        embeddedPort: s.state?.embeddedPort ?? null,
        starting: s.state === null,
        ...(await probe(url)),
      };
    }),
  );
  const configured = baseUrl(config);
  if (!checks.some((c) => c.url === configured)) {
    const other = await probe(configured);
    if (other.health || checks.length === 0) {
      checks.push({
        name: null,
        running: other.health !== null,
        pid: null,
        pidFile: pidFile(config),
        url: configured,
        embeddedPort: null,
        starting: false,
        ...other,
      });
    }
  }
  return checks;
}

/** The server this configuration names (or the first one running), for callers that want one. */
export async function checkServer(config: Readonly<Config>): Promise<ServerCheck> {
  const all = await checkServers(config);
  return all.find((c) => c.name === serverName(config)) ?? all.find((c) => c.running) ?? all[0];
}
