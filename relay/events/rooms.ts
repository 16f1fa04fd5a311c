// room:join, room:leave and room:history. SQL decides who may join (realtime_join_rooms, in natural
// batches) and read (realtime_room_history: whoever may join); the socket joins the Socket.io room
// only after SQL said yes. Membership changes reach other sockets as NOTIFY (delivery.ts); those
// announced while the join is in flight are held for the socket and delivered once it is in the
// room, so two users joining at once each hear of the other.
import * as sql from "../../lib/sql/index.js";
import { RealtimeError, type RoomJoinResult } from "../../protocol/index.js";
import { Batcher } from "../batcher.js";
import { emitAnyEvent, joiningKey, roomKey, type RelaySocket } from "../sockets.js";
import type { EventHandlers } from "./context.js";

function roomCount(socket: RelaySocket): number {
  let n = 0;
  for (const key of socket.rooms) if (key.startsWith("room:")) n++;
  return n;
}

/**
 * A join storm (a deploy, a popular room opening) costs one call per batch on each lane instead of
 * one pooled connection per join; joins of one room share a lane, so they are stored in order.
 */
export function joinBatcher(db: sql.SqlClient, lanes: number): Batcher<sql.JoinRoomRequest, RoomJoinResult> {
  return new Batcher((items) => sql.joinRooms(db, items), { maxBatch: 200, lanes, key: (j) => j.roomName });
}

export const roomEvents: EventHandlers<"room:join" | "room:leave" | "room:history"> = {
  async "room:join"({ roomName, since }, { ctx, socket }) {
    const { config } = ctx;
    const id = socket.data.identity;
    // Joins in flight count toward the room cap, so concurrent joins cannot overshoot it.
    const joining = socket.data.joining ?? 0;
    if (!socket.rooms.has(roomKey(roomName)) && roomCount(socket) + joining >= config.maxRoomsPerSocket) {
      throw new RealtimeError("LIMIT_EXCEEDED", `this connection is in ${config.maxRoomsPerSocket} rooms, the most it may join`, { limit: "roomsPerSocket" });
    }
    socket.data.joining = joining + 1;
    const held: Array<[string, unknown]> = [];
    (socket.data.heldForJoin ??= new Map()).set(roomName, held);
    socket.join(joiningKey(roomName));
    let result;
    try {
      result = await ctx.joins.submit({
        roomName,
        userId: id.anonymous ? null : id.userId,
        anonymous: id.anonymous,
        autoCreate: config.autoCreateRooms,
        since: since ?? null,
        replayLimit: config.replayLimit,
      });
      await socket.join(roomKey(roomName));
      for (const [event, payload] of held) emitAnyEvent(socket, event, payload);
    } finally {
      socket.data.joining!--;
      if (socket.data.heldForJoin?.get(roomName) === held) socket.data.heldForJoin.delete(roomName);
      socket.leave(joiningKey(roomName));
    }
    ctx.eventLog.record("join", id.anonymous ? null : id.userId, roomName, { socketId: socket.id });
    return result;
  },

  async "room:leave"({ roomName }, { ctx, socket }) {
    const id = socket.data.identity;
    let left = false;
    if (!id.anonymous) left = await sql.leaveRoom(ctx.db, roomName, id.userId);
    // The member notification moves every socket of the user out; this one leaves now.
    await socket.leave(roomKey(roomName));
    ctx.eventLog.record("leave", id.anonymous ? null : id.userId, roomName, { socketId: socket.id });
    return { roomName, left };
  },

  async "room:history"({ roomName, before, limit }, { ctx, socket }) {
    const id = socket.data.identity;
    return sql.roomHistory(ctx.db, {
      roomName,
      userId: id.anonymous ? null : id.userId,
      anonymous: id.anonymous,
      before: before ?? null,
      limit: limit ?? 50,
    });
  },
};
