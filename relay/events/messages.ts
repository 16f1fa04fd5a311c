// message:send: stored by realtime_send_messages (in natural batches), then emitted as message:new
// through the Socket.io adapter, which reaches every relay's sockets in the room exactly once
// (Redis when configured; recovery.ts replays what a Redis gap lost).
import * as sql from "../../lib/sql/index.js";
import type { ItemResult, OutgoingMessage } from "../../lib/sql/index.js";
import { Batcher } from "../batcher.js";
import { typingKey } from "../limits.js";
import { roomKey } from "../sockets.js";
import type { EventGuards, EventHandlers, StoredMessage } from "./context.js";

/**
 * Acknowledged means stored: with `durable` the batch's transaction commits with
 * synchronous_commit = on. A retry of a stored clientMessageId comes back with duplicate: true.
 */
export function messageBatcher(db: sql.SqlClient, durable: boolean, lanes: number): Batcher<OutgoingMessage, StoredMessage> {
  return new Batcher(async (items) => {
    const rows = await sql.sendMessages(db, items, { durable });
    return rows.map((r): ItemResult<StoredMessage> =>
      r.ok ? { ok: true, value: r.duplicate ? { ...r.message!, duplicate: true } : r.message! } : { ok: false, error: r.error! },
    );
  }, { maxBatch: 100, lanes, key: (m) => m.roomName });
}

export const messageGuards: EventGuards<"message:send"> = {
  "message:send": { after: "roomName", check: ({ requireUser }) => void requireUser("send messages") },
};

export const messageEvents: EventHandlers<"message:send"> = {
  async "message:send"({ roomName, content, threadId, metadata, clientMessageId }, { ctx, socket, requireUser }) {
    const userId = requireUser("send messages");
    const { duplicate, ...message } = await ctx.messages.submit({
      roomName,
      userId,
      content,
      threadId: threadId ?? null,
      metadata: metadata ?? null,
      roles: socket.data.identity.roles,
      ...(clientMessageId !== undefined ? { clientMessageId } : {}),
    });
    // A retry of a clientMessageId already stored (the acknowledgement was lost, the client
    // reconnected, maybe to another relay): SQL stored nothing and answered the stored message.
    // Its message:new went out with the first send, so it is only acknowledged, not delivered again.
    if (duplicate) return message;
    ctx.metrics.messages.inc();
    // Sending cleared the sender's typing here in SQL: the next start must reach SQL again.
    socket.data.limits.typingStopped(typingKey(roomName, threadId));
    // Through the adapter: every relay's sockets in the room, exactly once.
    ctx.io.to(roomKey(roomName)).emit("message:new", message);
    return message;
  },
};
