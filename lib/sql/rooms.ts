// functions/rooms.sql and notify.sql: joining and leaving rooms, and the rooms of users.
import type { RoomHistoryResult, RoomJoinResult } from "../../protocol/index.js";
import { jsonParam, type ItemResult, type SqlClient } from "./client.js";

export interface JoinRoomRequest {
  roomName: string;
  /** null for anonymous connections. */
  userId: string | null;
  anonymous: boolean;
  autoCreate: boolean;
  /** Replay the messages after this id. */
  since: number | null;
  replayLimit: number;
}

/**
 * Joins many rooms in one call (realtime_join_rooms); one result per item, in order: what
 * realtime_join_room would return, or the error it would raise (a refused join does not fail the others).
 */
export function joinRooms(db: SqlClient, items: JoinRoomRequest[]): Promise<ItemResult<RoomJoinResult>[]> {
  return db.value<ItemResult<RoomJoinResult>[]>("join_rooms", "select realtime_join_rooms($1::jsonb) as v", [jsonParam(items)]);
}

/** A page of older messages (functions/history.sql): the newest `limit` below `before`, oldest first. */
export function roomHistory(
  db: SqlClient,
  r: { roomName: string; userId: string | null; anonymous: boolean; before: number | null; limit: number },
): Promise<RoomHistoryResult> {
  return db.value<RoomHistoryResult>("room_history", "select realtime_room_history($1, $2, $3, $4, $5) as v", [
    r.roomName,
    r.userId,
    r.before,
    r.limit,
    r.anonymous,
  ]);
}

/** Ends the user's membership; true when one was active. */
export function leaveRoom(db: SqlClient, roomName: string, userId: string): Promise<boolean> {
  return db.value<boolean>("leave_room", "select realtime_leave_room($1, $2) as v", [roomName, userId]);
}

/** The rooms a user is an active member of. */
export function userRoomNames(db: SqlClient, userId: string): Promise<string[]> {
  return db.value<string[]>("user_rooms", "select realtime_user_room_names($1) as v", [userId]);
}

/** The rooms of each user, in one call. */
export function roomNamesOfUsers(db: SqlClient, userIds: string[]): Promise<{ user_id: string; rooms: string[] }[]> {
  return db.query<{ user_id: string; rooms: string[] }>(
    "resync_rooms",
    "select u as user_id, realtime_user_room_names(u) as rooms from unnest($1::text[]) as u",
    [userIds],
  );
}

/** Creates a public channel unless a room of that name exists (the embedded server's `general`). */
export async function ensurePublicChannel(client: { query(text: string, values: unknown[]): Promise<unknown> }, name: string): Promise<void> {
  await client.query(
    "select realtime_create_room($1, 'channel', 'public') where not exists (select 1 from realtime_rooms where name = $1)",
    [name],
  );
}
