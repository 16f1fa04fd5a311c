// The health check's round trip.
import type { SqlClient } from "./client.js";

/** The cheapest round trip: also what the pool's own probe sends on a connection of its own. */
export const PING = "select 1";

export async function ping(db: SqlClient): Promise<void> {
  await db.query("health", PING);
}
