// The administration side of the SQL API, what `realtime` (cli/) runs: rooms and members, presence
// lookups, the event log, open connections, relay nodes, sweeps and pruning. One typed function per
// call; the CLI holds no SQL text.
import type { Presence, Room, RoomMember } from "../../protocol/index.js";
import { msInterval, type SqlClient } from "./client.js";

// ---- rooms and members (functions/rooms.sql) --------------------------------------------------

export interface CreateRoomRequest {
  name: string;
  type: string;
  visibility: string;
  metadata: Record<string, unknown>;
  owner: string | null;
}

/** realtime_create_room: fails (RT409) when the name is taken. */
export function createRoom(db: SqlClient, r: CreateRoomRequest): Promise<Room> {
  return db.value<Room>("create_room", "select realtime_create_room($1, $2, $3, $4::jsonb, $5) as v", [
    r.name,
    r.type,
    r.visibility,
    JSON.stringify(r.metadata),
    r.owner,
  ]);
}

/** realtime_delete_room: true when it existed. */
export function deleteRoom(db: SqlClient, name: string): Promise<boolean> {
  return db.value<boolean>("delete_room", "select realtime_delete_room($1) as v", [name]);
}

/** realtime_open_dm: the direct-message room of two users (created once). */
export function openDm(db: SqlClient, userA: string, userB: string): Promise<Room> {
  return db.value<Room>("open_dm", "select realtime_open_dm($1, $2) as v", [userA, userB]);
}

/** realtime_add_member: false when the user already is a member. */
export function addMember(db: SqlClient, room: string, userId: string, role: string): Promise<boolean> {
  return db.value<boolean>("add_member", "select realtime_add_member($1, $2, $3) as v", [room, userId, role]);
}

/** realtime_remove_member: false when the user was not a member. */
export function removeMember(db: SqlClient, room: string, userId: string): Promise<boolean> {
  return db.value<boolean>("remove_member", "select realtime_remove_member($1, $2) as v", [room, userId]);
}

/** The active members of a room with their presence (realtime_room_members_json). */
export function roomMembers(db: SqlClient, room: string): Promise<RoomMember[]> {
  return db.value<RoomMember[]>("room_members", "select realtime_room_members_json(realtime_find_room($1)) as v", [room]);
}

export interface RoomRow {
  name: string;
  type: string;
  visibility: string;
  memberCount: number;
  onlineCount: number;
  createdAt: Date;
}

/** Rooms by active member count (realtime_room_stats), optionally of one type. */
export function listRooms(db: SqlClient, filter: { type?: string; limit: number }): Promise<RoomRow[]> {
  return db.query<RoomRow>(
    "rooms",
    `select name, type, visibility, member_count as "memberCount", online_count as "onlineCount", created_at as "createdAt"
     from realtime_room_stats
     where $1::text is null or type = $1
     order by "memberCount" desc, name
     limit $2`,
    [filter.type ?? null, filter.limit],
  );
}

// ---- presence (functions/presence.sql) --------------------------------------------------------

export { getPresence } from "./presence.js";
export type { Presence, Room, RoomMember };

// ---- the event log (functions/events.sql) -----------------------------------------------------

export interface EventRow {
  seq: number;
  id: string;
  type: string;
  userId: string | null;
  roomName: string | null;
  data: unknown;
  createdAt: Date;
}

export interface EventFilter {
  type?: string;
  room?: string;
  user?: string;
  /** Only events younger than this. */
  sinceMs?: number;
  limit: number;
}

/** The newest events matching the filter, newest first. */
export function listEvents(db: SqlClient, f: EventFilter): Promise<EventRow[]> {
  return db.query<EventRow>(
    "events",
    `select seq, id, type, user_id as "userId", room_name as "roomName", data, created_at as "createdAt"
     from realtime_events
     where ($1::text is null or type = $1)
       and ($2::text is null or room_name = $2)
       and ($3::text is null or user_id = $3)
       and ($4::double precision is null or created_at > now() - ${msInterval(4)})
     order by seq desc
     limit $5`,
    [f.type ?? null, f.room ?? null, f.user ?? null, f.sinceMs ?? null, f.limit],
  );
}

/** realtime_prune_events: deletes events older than olderThanMs; answers how many. */
export async function pruneEventLog(db: SqlClient, olderThanMs: number): Promise<number> {
  return Number(await db.value<number>("prune_events", `select realtime_prune_events(${msInterval(1)}) as v`, [olderThanMs]));
}

// ---- connections and nodes (functions/connections.sql, functions/views.sql) -------------------

export interface ConnectionRow {
  socketId: string;
  userId: string | null;
  anonymous: boolean;
  nodeId: string | null;
  presenceStatus: string | null;
  device: unknown;
  connectedAt: Date;
  lastActivity: Date;
}

/** Open connections (realtime_active_connections), newest first, optionally of one user. */
export function listConnections(db: SqlClient, filter: { user?: string; limit: number }): Promise<ConnectionRow[]> {
  return db.query<ConnectionRow>(
    "connections",
    `select socket_id as "socketId", user_id as "userId", anonymous, node_id as "nodeId",
            presence_status as "presenceStatus", device, connected_at as "connectedAt", last_activity as "lastActivity"
     from realtime_active_connections
     where $1::text is null or user_id = $1
     order by connected_at desc
     limit $2`,
    [filter.user ?? null, filter.limit],
  );
}

export interface StaleConnection {
  socketId: string;
  userId: string | null;
  nodeId: string | null;
  reason: string;
}

/**
 * disconnect_stale_connections: closes the sockets of dead relays and those idle past
 * activityTimeoutMs. nodeTimeoutMs applies only to relays that declared no stale-after; null
 * leaves the SQL default (90 s), the one realtime_node_stats judges such relays by.
 */
export function cleanStale(db: SqlClient, o: { nodeTimeoutMs: number | null; activityTimeoutMs: number }): Promise<StaleConnection[]> {
  return db.query<StaleConnection>(
    "disconnect_stale_connections",
    `select socket_id as "socketId", user_id as "userId", node_id as "nodeId", reason
     from disconnect_stale_connections(now(), coalesce(${msInterval(1)}, interval '90 seconds'), ${msInterval(2)})`,
    [o.nodeTimeoutMs, o.activityTimeoutMs],
  );
}

export interface NodeStatus {
  nodeId: string;
  hostname: string | null;
  pid: number | null;
  startedAt: Date;
  lastHeartbeat: Date;
  stoppedAt: Date | null;
  connectionCount: number;
  /** The stale-after the node declared (90 s when it declared none). */
  staleAfterMs: number;
  /** Judged in SQL by the node's own stale-after (realtime_node_alive). */
  alive: boolean;
  state: "alive" | "silent" | "stopped";
}

/** Every registered relay node with its liveness (realtime_node_stats), alive ones first. */
export function listNodes(db: SqlClient): Promise<NodeStatus[]> {
  return db.query<NodeStatus>(
    "node_stats",
    `select node_id as "nodeId", hostname, pid, started_at as "startedAt", last_heartbeat as "lastHeartbeat",
            stopped_at as "stoppedAt", connection_count::int as "connectionCount", stale_after_ms::int as "staleAfterMs",
            alive, state
     from realtime_node_stats
     order by alive desc, "nodeId"`,
  );
}

// ---- the server ------------------------------------------------------------------------------

/** PostgreSQL's version string (server_version). */
export function serverVersion(db: SqlClient): Promise<string> {
  return db.value<string>("server_version", "select current_setting('server_version') as v");
}
