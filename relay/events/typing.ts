// typing:start and typing:stop, in natural batches (realtime_typing_changes). A start repeated
// within REALTIME_TYPING_THROTTLE is answered from memory; changes in the set of typers reach
// sockets as NOTIFY (delivery.ts).
import * as sql from "../../lib/sql/index.js";
import type { TypingChange, TypingChangeResult } from "../../lib/sql/index.js";
import { Batcher } from "../batcher.js";
import { typingKey } from "../limits.js";
import { roomKey } from "../sockets.js";
import type { EventHandlers } from "./context.js";

export function typingBatcher(db: sql.SqlClient, typingTimeoutMs: number, lanes: number): Batcher<TypingChange, TypingChangeResult> {
  return new Batcher((items) => sql.typingChanges(db, items, typingTimeoutMs), { maxBatch: 200, lanes, key: (c) => c.roomName });
}

export const typingEvents: EventHandlers<"typing:start" | "typing:stop"> = {
  async "typing:start"({ roomName, threadId }, { ctx, socket, requireUser, throttle }) {
    const userId = requireUser("type");
    if (!ctx.config.enableTyping) return { changed: false, enabled: false };
    throttle("typing:start", "typing");
    // Clients that send typing:start on every keystroke are common: a repeat within the throttle
    // is answered from memory, and the indicator it would refresh is still live.
    const key = typingKey(roomName, threadId);
    // Only while the socket is still in the room: after a leave or a removal the repeat must reach
    // SQL and be refused, not be acknowledged from memory.
    if (socket.rooms.has(roomKey(roomName)) && socket.data.limits.typingThrottled(key)) return { changed: false };
    ctx.eventLog.record("typing", userId, roomName, { threadId: threadId ?? null, state: "start" });
    const result = await ctx.typing.submit({ op: "start", roomName, userId, threadId: threadId ?? null, socketId: socket.id });
    socket.data.limits.typingStarted(key);
    return result;
  },

  async "typing:stop"({ roomName, threadId }, { ctx, socket, requireUser, throttle }) {
    const userId = requireUser("type");
    if (!ctx.config.enableTyping) return { changed: false, enabled: false };
    throttle("typing:stop", "typing");
    socket.data.limits.typingStopped(typingKey(roomName, threadId));
    ctx.eventLog.record("typing", userId, roomName, { threadId: threadId ?? null, state: "stop" });
    const { changed } = await ctx.typing.submit({ op: "stop", roomName, userId, threadId: threadId ?? null, socketId: socket.id });
    return { changed };
  },
};
