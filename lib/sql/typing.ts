// functions/typing.sql: typing indicators, changed in batches.
import { jsonParam, msInterval, type ItemResult, type SqlClient } from "./client.js";

export interface TypingChange {
  op: "start" | "stop";
  roomName: string;
  userId: string;
  threadId: string | null;
  socketId: string;
}
export type TypingChangeResult = { changed: boolean; users?: string[] };

/** Applies a batch of typing starts and stops; one result per item, in order. */
export function typingChanges(db: SqlClient, items: TypingChange[], timeoutMs: number): Promise<ItemResult<TypingChangeResult>[]> {
  return db.value<ItemResult<TypingChangeResult>[]>("typing_changes", `select realtime_typing_changes($1::jsonb, ${msInterval(2)}) as v`, [
    jsonParam(items),
    timeoutMs,
  ]);
}

/** The live typers of each room/thread among `roomNames` that has any. */
export function currentTypers(db: SqlClient, roomNames: string[]): Promise<{ room_name: string; thread_id: string | null; users: string[] }[]> {
  return db.query<{ room_name: string; thread_id: string | null; users: string[] }>(
    "resync_typing",
    `select room_name, thread_id, realtime_typers(room_name, thread_id) as users
       from (select distinct room_name, thread_id from realtime_typing where room_name = any ($1::text[])) t`,
    [roomNames],
  );
}
