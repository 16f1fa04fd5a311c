// functions/connections.sql, the relay node's own rows: start, heartbeat, stop.
import { msInterval, type SqlClient } from "./client.js";

export interface NodeInfo {
  nodeId: string;
  hostname: string;
  pid: number;
  heartbeatMs: number;
  staleAfterMs: number;
}

/** Records the node as started; answers how many connections an earlier process with this id left open (now closed). */
export function nodeStart(db: SqlClient, node: NodeInfo): Promise<number> {
  return db.value<number>("node_start", "select realtime_node_start($1, $2, $3, $4::jsonb) as v", [
    node.nodeId,
    node.hostname,
    node.pid,
    JSON.stringify({ heartbeatMs: node.heartbeatMs, staleAfterMs: node.staleAfterMs }),
  ]);
}

/** Touches the node and its open sockets (those in `active` sent something); answers the socket ids the database does not hold open. */
export async function nodeHeartbeat(db: SqlClient, nodeId: string, socketIds: string[], active: string[]): Promise<string[]> {
  const notOpen = await db.value<string[] | null>("node_heartbeat", "select realtime_node_heartbeat($1, $2::text[], now(), $3::text[]) as v", [
    nodeId,
    socketIds,
    active,
  ]);
  return notOpen ?? [];
}

/** Marks the node stopped and closes its connections; users stay visible for the grace period. */
export function nodeStop(db: SqlClient, nodeId: string, presenceGraceMs: number): Promise<number> {
  return db.value<number>("node_stop", `select realtime_node_stop($1, now(), ${msInterval(2)}) as v`, [nodeId, presenceGraceMs]);
}
