import { RealtimeCommand } from "../lib/base.js";
import {
  checkDatabase,
  checkRedisConfigured,
  checkServers,
  configSummary,
  type DatabaseCheck,
  type RedisStatus,
  type ServerCheck,
} from "../lib/checks.js";
import { formatDuration } from "../lib/duration.js";
import type { NodeStatus } from "../../lib/sql/admin.js";

export interface StatusJson {
  config: Record<string, string>;
  database: DatabaseCheck;
  redis: RedisStatus;
  /** Every server running from this data directory (or the one entry for REALTIME_PORT when none runs). */
  servers: ServerCheck[];
  /** The first of servers (kept for scripts that read one). */
  server: ServerCheck;
}

function serverLine(server: ServerCheck): string {
  if (!server.running) return `not running (nothing answers ${server.url}/health)`;
  const parts: string[] = [];
  if (server.name !== null && server.starting) return `${server.name}: starting, pid ${server.pid} (no URL recorded yet)`;
  if (server.name !== null) parts.push(`${server.name}: running, pid ${server.pid}`);
  else parts.push("running (no pid file here: started elsewhere)");
  if (server.health) {
    const body = server.health.body ?? {};
    const state = server.health.status === 200 ? "healthy" : `unhealthy (HTTP ${server.health.status})`;
    parts.push(`${server.url} ${state}`);
    if (typeof body.connections === "number") parts.push(`${body.connections} connections`);
    else if (body.connections && typeof body.connections === "object" && "total" in body.connections) {
      parts.push(`${(body.connections as { total: unknown }).total} connections`);
    }
    if (typeof body.uptime === "number") parts.push(`up ${formatDuration(Math.round(body.uptime * 1000))}`);
  } else {
    parts.push(`${server.url}/health does not answer (${server.error})`);
  }
  return parts.join(", ");
}

/** The relay nodes as the database judges them (each by the stale-after it declared). */
function nodesLine(nodes: NodeStatus[]): string {
  const by = (state: NodeStatus["state"]) => nodes.filter((n) => n.state === state).map((n) => n.nodeId);
  const alive = by("alive");
  const silent = by("silent");
  if (alive.length === 0 && silent.length === 0) return "none running";
  const parts = [`${alive.length} alive${alive.length ? ` (${alive.join(", ")})` : ""}`];
  if (silent.length) parts.push(`${silent.length} silent past their stale-after (${silent.join(", ")})`);
  return parts.join(", ");
}

export default class Status extends RealtimeCommand {
  static summary = "Show configuration, database, Redis and server status.";
  static description =
    "Prints the configuration (secrets masked), whether the database and Redis are reachable, the schema version, the relay nodes the database judges alive (each by the stale-after it declared), and every server running from this directory " +
    "(their pid files in <data dir>/run/ and GET /health on the URL each server recorded there; REALTIME_PORT is probed too). " +
    "The embedded database's port and the servers' URLs come from what the running server wrote, so this shell needs none of its settings.";
  static examples = ["<%= config.bin %> <%= command.id %>", "<%= config.bin %> <%= command.id %> --json"];
  static enableJsonFlag = true;

  async run(): Promise<StatusJson> {
    await this.parse(Status);
    const config = this.settings;
    const [database, redis, servers] = await Promise.all([
      checkDatabase(config),
      checkRedisConfigured(config),
      checkServers(config),
    ]);
    const summary = configSummary(config, database.port);

    const width = Math.max(...Object.keys(summary).map((k) => k.length)) + 2;
    this.log("Configuration");
    for (const [key, value] of Object.entries(summary)) this.log(`  ${key.padEnd(width)}${value}`);
    this.log("");
    let dbLine: string;
    if (database.reachable) {
      dbLine = `reachable, ${database.server}, schema ${database.schemaVersion ?? "not installed (run npx realtime init)"}`;
      if (database.embedded) dbLine += ` (embedded at ${database.url})`;
    } else {
      dbLine = database.error ?? "unreachable";
    }
    const redisLine = !redis.configured
      ? "not configured"
      : redis.ok
        ? `reachable, ${redis.detail} at ${redis.url}`
        : `unreachable at ${redis.url} (${redis.detail})`;
    const labelWidth = 10;
    this.log(`${"Database".padEnd(labelWidth)}${dbLine}`);
    if (database.nodes) this.log(`${"Nodes".padEnd(labelWidth)}${nodesLine(database.nodes)}`);
    this.log(`${"Redis".padEnd(labelWidth)}${redisLine}`);
    for (const [i, server] of servers.entries()) {
      this.log(`${(i === 0 ? (servers.length > 1 ? "Servers" : "Server") : "").padEnd(labelWidth)}${serverLine(server)}`);
    }
    return { config: summary, database, redis, servers, server: servers[0] };
  }
}
