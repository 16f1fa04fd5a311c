// functions/rooms.sql's realtime_send_messages: storing messages (the relay sends them in batches).
import type { Message } from "../../protocol/index.js";
import { jsonParam, type SqlClient } from "./client.js";

export interface OutgoingMessage {
  roomName: string;
  userId: string;
  content: string;
  threadId: string | null;
  metadata: Record<string, unknown> | null;
  roles: string[];
  clientMessageId?: string;
}

export interface SendResult {
  ok: boolean;
  message?: Message;
  /** A retry of a stored clientMessageId: nothing was stored, `message` is the stored one. */
  duplicate?: boolean;
  error?: { code: string; message: string };
}

/**
 * Stores a batch of messages; one result per item, in order. durable: the transaction commits
 * with synchronous_commit = on (set_config local to it, same round trip), so an acknowledgement
 * waits for the WAL flush while the session's other commits stay as configured.
 */
export function sendMessages(db: SqlClient, items: OutgoingMessage[], options: { durable: boolean }): Promise<SendResult[]> {
  return db.value<SendResult[]>(
    "send_messages",
    options.durable
      ? "select realtime_send_messages($1::jsonb) as v, set_config('synchronous_commit', 'on', true)"
      : "select realtime_send_messages($1::jsonb) as v",
    [jsonParam(items)],
  );
}
