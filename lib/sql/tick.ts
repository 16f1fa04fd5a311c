// functions/tick.sql: the periodic settling of presence and typing expiry.
import type { SqlClient } from "./client.js";

export async function tick(db: SqlClient): Promise<void> {
  await db.query("tick", "select realtime_tick()");
}
