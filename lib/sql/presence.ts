// functions/presence.sql: presence a user sets, presence others read, idle away.
import type { Presence, PresenceStatus } from "../../protocol/index.js";
import { msInterval, type SqlClient } from "./client.js";

/** customStatus: undefined keeps the stored one, null clears it, an object sets it. */
export function setPresence(db: SqlClient, userId: string, status: PresenceStatus, customStatus: Record<string, unknown> | null | undefined): Promise<Presence> {
  const custom = customStatus === undefined ? null : customStatus === null ? "null" : JSON.stringify(customStatus);
  return db.value<Presence>("set_presence", "select realtime_set_presence($1, $2, $3::jsonb) as v", [userId, status, custom]);
}

/** Presence of every id asked. */
export function getPresence(db: SqlClient, userIds: string[]): Promise<Presence[]> {
  return db.value<Presence[]>("get_presence", "select realtime_get_presence($1::text[]) as v", [userIds]);
}

/** Presence of the ids the reader may see (itself, users sharing a room, members of public rooms). */
export function getVisiblePresence(db: SqlClient, reader: { userId: string | null; anonymous: boolean }, userIds: string[]): Promise<Presence[]> {
  return db.value<Presence[]>("get_presence", "select realtime_get_visible_presence($1, $2, $3::text[]) as v", [reader.userId, reader.anonymous, userIds]);
}

/** Shows away (idle) the users who sent nothing for idleAfterMs. */
export async function markIdle(db: SqlClient, idleAfterMs: number): Promise<void> {
  await db.query("mark_idle", `select realtime_mark_idle(${msInterval(1)})`, [idleAfterMs]);
}

/** Brings users out of idle away. */
export async function markActive(db: SqlClient, userIds: string[]): Promise<void> {
  await db.query("mark_active", "select realtime_mark_active($1::text[])", [userIds]);
}
