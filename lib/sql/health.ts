// The health check's round trip.
import type { SqlClient } from "./client.js";

export async function ping(db: SqlClient): Promise<void> {
  await db.query("health", "select 1");
}
