// functions/connections.sql: registering and closing socket connections, the stale sweep.
import { jsonParam, msInterval, type SqlClient } from "./client.js";

export interface ConnectionRegistration {
  socketId: string;
  userId: string | null;
  device: unknown;
  metadata: Record<string, unknown>;
  anonymous: boolean;
  /** Undefined: no per-user cap (a socket registered again). */
  maxPerUser?: number;
}
export interface RegistrationResult {
  connectionId?: string;
  rooms?: string[];
  error?: { code: string; message: string };
}

/** Registers a batch of connections in one call; one result per item, in order. */
export function registerConnections(db: SqlClient, items: ConnectionRegistration[], nodeId: string): Promise<RegistrationResult[]> {
  return db.value<RegistrationResult[]>("register_connections", "select realtime_register_connections($1::jsonb, $2) as v", [jsonParam(items), nodeId]);
}

/** Closes a socket's connection row; its user goes offline after the grace period unless another connection is open. */
export async function closeConnection(db: SqlClient, socketId: string, presenceGraceMs: number): Promise<void> {
  await db.query("close_connection", `select realtime_close_connection($1, now(), ${msInterval(2)})`, [socketId, presenceGraceMs]);
}

export interface ClosedConnection {
  socket_id: string;
  node_id: string;
  reason: string;
}

/** Closes connections of dead relays and connections inactive too long. */
export function disconnectStale(db: SqlClient, staleAfterMs: number, inactiveAfterMs: number): Promise<ClosedConnection[]> {
  return db.query<ClosedConnection>(
    "disconnect_stale",
    `select * from disconnect_stale_connections(now(), ${msInterval(1)}, ${msInterval(2)})`,
    [staleAfterMs, inactiveAfterMs],
  );
}
