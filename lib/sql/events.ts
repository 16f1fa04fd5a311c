// functions/events.sql: the event log, its pruning, and what changed during a gap.
import type { Message, Presence } from "../../protocol/index.js";
import { jsonParam, msInterval, msTimestamp, NUL_OR_LONE_SURROGATE, type SqlClient } from "./client.js";

/** Writes a batch of event-log entries. Client text is made storable: NUL and lone surrogates become U+FFFD. */
export async function logEvents(db: SqlClient, events: unknown[]): Promise<void> {
  await db.query("log_events", "select realtime_log_events($1::jsonb)", [jsonParam(events, NUL_OR_LONE_SURROGATE)]);
}

/** Deletes events older than retentionMs. */
export async function pruneEvents(db: SqlClient, retentionMs: number): Promise<void> {
  await db.query("prune_events", `select realtime_prune_events(${msInterval(1)})`, [retentionMs]);
}

/** Messages stored in these rooms since `sinceMs` (ms since the epoch), oldest first. */
export async function messagesSince(db: SqlClient, roomNames: string[], sinceMs: number): Promise<Message[]> {
  const changes = await db.value<{ messages: Message[] }>(
    "changes_since",
    `select realtime_changes_since($1::text[], '{}'::text[], ${msTimestamp(2)}) as v`,
    [roomNames, sinceMs],
  );
  return changes.messages;
}

export interface MembershipChange {
  roomName: string;
  userId: string;
  op: "joined" | "left";
}
export interface Changes {
  messages: Message[];
  presence: Array<Presence & { rooms: string[] }>;
  members: MembershipChange[];
}

/** Messages, presence and membership changes in these rooms and of these users since `sinceMs`. */
export function changesSince(db: SqlClient, roomNames: string[], userIds: string[], sinceMs: number): Promise<Changes> {
  return db.value<Changes>("changes_since", `select realtime_changes_since($1::text[], $2::text[], ${msTimestamp(3)}) as v`, [
    roomNames,
    userIds,
    sinceMs,
  ]);
}

/** The payload of a broadcast too large for its notification, stored under its seq; undefined when gone. */
export async function storedBroadcastPayload(db: SqlClient, seq: number): Promise<{ payload: unknown } | undefined> {
  const [row] = await db.query<{ data: { payload: unknown } }>("broadcast_ref", "select data from realtime_events where seq = $1", [seq]);
  return row ? { payload: row.data.payload } : undefined;
}
