// What every fault scenario starts from: its own PostgreSQL cluster and redis-server, relays spawned
// as processes against them with short timings, and cleanup of all of it.
import { afterAll } from "vitest";
import { startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivatePostgresOptions, type PrivateRedis } from "../helpers/faults.js";
import { History } from "../helpers/history.js";
import { spawnRelay, type RelayProcess } from "../helpers/processes.js";

export const HEARTBEAT_MS = 1000;
export const STALE_AFTER_MS = 3000;

export interface World {
  pg: PrivatePostgres;
  redis: PrivateRedis;
  env: Record<string, string>;
  relays: RelayProcess[];
  histories: History[];
  /** Spawns a relay (its own process) on the private services. */
  relay(nodeId: string, env?: Record<string, string>): Promise<RelayProcess>;
  history(scenario: string): History;
  /** Public channels. */
  rooms(prefix: string, n: number): Promise<string[]>;
}

export async function startWorld(options: { pg?: PrivatePostgresOptions; env?: Record<string, string> } = {}): Promise<World> {
  const pg = await startPrivatePostgres(options.pg);
  let redis: PrivateRedis;
  try {
    redis = await startPrivateRedis();
  } catch (err) {
    await pg.destroy();
    throw err;
  }
  const env: Record<string, string> = {
    DATABASE_URL: pg.url,
    REALTIME_REDIS_URL: redis.url,
    REALTIME_PRESENCE_HEARTBEAT: String(HEARTBEAT_MS),
    REALTIME_STALE_AFTER: String(STALE_AFTER_MS),
    REALTIME_DEMO: "false",
    LOG_LEVEL: "info",
    ...options.env,
  };
  const world: World = {
    pg,
    redis,
    env,
    relays: [],
    histories: [],
    async relay(nodeId, extra = {}) {
      const r = await spawnRelay({ ...env, ...extra }, nodeId);
      world.relays.push(r);
      return r;
    },
    history(scenario) {
      const h = new History(scenario, pg.sql);
      world.histories.push(h);
      return h;
    },
    async rooms(prefix, n) {
      const names = Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);
      for (const name of names) await pg.sql("select realtime_create_room($1, 'channel', 'public')", [name]);
      return names;
    },
  };
  return world;
}

/** Registers the cleanup of a world created in beforeAll. */
export function cleanupWorld(get: () => World | undefined): void {
  afterAll(async () => {
    const w = get();
    if (!w) return;
    for (const h of w.histories) h.close();
    await Promise.all(w.relays.map((r) => r.kill("SIGKILL").catch(() => null)));
    await w.redis.destroy().catch(() => {});
    await w.pg.destroy().catch(() => {});
  }, 60_000);
}
