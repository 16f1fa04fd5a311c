// Delivery of what the database announces (NOTIFY) to this relay's own sockets: every relay
// receives every notification, so local-only delivery means each socket gets each notification
// exactly once. Messages do not come this way: message:send emits them through the Socket.io
// adapter (Redis when configured), which reaches the sockets of every relay. Also the recovery
// after a gap: a resync after the LISTEN connection comes back, and the replay of messages whose
// cross-relay publish was lost while Redis was unreachable (relay/recovery.ts deduplicates).
import * as sql from "../lib/sql/index.js";
import type { BroadcastNotification, MemberNotification, Message, Notification, PresenceNotification, TypingNotification } from "../protocol/index.js";
import type { RelayContext } from "./context.js";
import { typingKey } from "./limits.js";
import type { PresenceTicks } from "./presence-ticks.js";
import type { DeliveredMessages } from "./recovery.js";
import { emitAnyEvent, holdForJoining, localRoomNames, localUserIds, roomKey, userKey } from "./sockets.js";

/** How long before a detected gap deliveries may already have been lost (in flight, clock skew). */
export const GAP_MARGIN_MS = 5_000;

export class Delivery {
  constructor(
    private readonly ctx: Pick<RelayContext, "config" | "db" | "io" | "metrics" | "log">,
    /** Message ids delivered to local sockets lately, so a replay after a Redis gap skips them. */
    private readonly delivered: DeliveredMessages,
    /** Told whether a user is away for being idle (their next event ends it). */
    private readonly setIdle: (userId: string, idle: boolean) => void,
    /** Runs first in a resync: registers again the sockets whose rows the database lost. */
    private readonly heartbeat: () => Promise<void>,
    /** Presence changes go out once per tick (relay/presence-ticks.ts). */
    private readonly presence: PresenceTicks,
  ) {}

  onNotification(n: Notification): void {
    this.ctx.metrics.notifications.inc({ kind: n.kind });
    try {
      switch (n.kind) {
        case "typing":
          this.deliverTyping(n);
          return;
        case "presence":
          void this.deliverPresence(n);
          return;
        case "member":
          this.deliverMembership(n);
          return;
        case "broadcast":
          void this.deliverBroadcast(n);
          return;
        default:
          this.ctx.log.debug({ kind: (n as { kind: unknown }).kind }, "ignored notification of unknown kind");
      }
    } catch (err) {
      this.ctx.log.error({ err, kind: n.kind }, "notification delivery failed");
    }
  }

  private deliverTyping(n: TypingNotification): void {
    if (!this.ctx.config.enableTyping) return;
    const event = { roomName: n.room, threadId: n.threadId ?? null, users: n.users ?? [] };
    this.ctx.io.local.to(roomKey(String(n.room))).emit("typing:event", event);
    holdForJoining(this.ctx.io, [String(n.room)], "typing:event", event);
    this.forgetTypingThrottles(String(n.room), n.threadId ?? null, n.users ?? []);
  }

  /**
   * A user missing from the new set of typers stopped (perhaps in another tab), sent a message or
   * expired: their sockets' next typing:start must reach SQL rather than be answered from memory.
   */
  private forgetTypingThrottles(room: string, threadId: string | null, typers: string[]): void {
    const ids = this.ctx.io.of("/").adapter.rooms.get(roomKey(room));
    if (!ids) return;
    const typing = new Set(typers);
    const key = typingKey(room, threadId);
    for (const id of ids) {
      const socket = this.ctx.io.of("/").sockets.get(id);
      if (socket?.data.limits && !typing.has(socket.data.identity.userId)) socket.data.limits.typingStopped(key);
    }
  }

  private async deliverPresence(n: PresenceNotification): Promise<void> {
    if (!this.ctx.config.enablePresence) return;
    const userId = String(n.userId);
    this.setIdle(userId, n.idle === true);
    let rooms = n.rooms;
    if (!Array.isArray(rooms)) rooms = await sql.userRoomNames(this.ctx.db, userId);
    const event = {
      userId,
      status: n.status as never,
      customStatus: (n.customStatus ?? null) as never,
      lastSeen: n.lastSeen ?? null,
    };
    this.presence.add(event, rooms);
  }

  private deliverMembership(n: MemberNotification): void {
    const { io } = this.ctx;
    const room = roomKey(String(n.room));
    const userId = String(n.userId);
    const payload = { roomName: n.room, userId };
    if (n.op === "joined") {
      // Every socket of the user follows the membership (other tabs, or a DBA's add_member).
      io.local.in(userKey(userId)).socketsJoin(room);
      io.local.to(room).emit("user:joined", payload);
      holdForJoining(io, [String(n.room)], "user:joined", payload);
    } else if (n.op === "left") {
      io.local.to(room).emit("user:left", payload);
      holdForJoining(io, [String(n.room)], "user:left", payload);
      io.local.in(userKey(userId)).socketsLeave(room);
    }
  }

  private async deliverBroadcast(n: BroadcastNotification): Promise<void> {
    let payload: unknown = n.payload;
    if (n.ref !== undefined) {
      const stored = await sql.storedBroadcastPayload(this.ctx.db, n.ref);
      if (!stored) return;
      payload = stored.payload;
    }
    const target = n.target === "user" ? userKey(String(n.name)) : roomKey(String(n.name));
    emitAnyEvent(this.ctx.io.local.to(target), String(n.event), payload);
  }

  /**
   * Delivers to local sockets the messages stored in their rooms since `since` that this relay has
   * not delivered: published while Redis was unreachable, or stored by a send whose answer never
   * came back (a database crash mid-commit, a relay killed between storing and publishing).
   */
  async replayMessages(since: number, reason: "redis" | "peer" | "listen" | "dead-relay"): Promise<void> {
    const rooms = localRoomNames(this.ctx.io);
    if (rooms.length === 0) return;
    let messages: Message[];
    try {
      messages = await sql.messagesSince(this.ctx.db, rooms, since);
    } catch (err) {
      this.ctx.log.warn({ err: (err as Error).message, reason }, "could not replay missed messages");
      return;
    }
    this.deliverMissed(messages, reason);
  }

  /** Emits to local sockets the messages among these that this relay has not delivered. */
  private deliverMissed(messages: Message[], reason: "redis" | "peer" | "listen" | "dead-relay"): void {
    let replayed = 0;
    for (const message of messages) {
      if (this.delivered.has(message.id)) continue;
      this.ctx.io.local.to(roomKey(message.roomName)).emit("message:new", message);
      replayed++;
    }
    this.ctx.metrics.messagesReplayed.inc(replayed);
    if (replayed > 0 || reason === "redis") this.ctx.log.info({ replayed, checked: messages.length, reason }, "replayed missed messages");
  }

  /**
   * After the LISTEN connection comes back: notifications sent meanwhile are lost. Register again
   * any socket whose row is gone (the database may have restarted), re-read memberships of local
   * users (join/leave sockets to match), announce the membership and presence changes made in the
   * gap to local sockets, and re-send current typers of local rooms.
   */
  async resync(lostAt: number = Date.now()): Promise<void> {
    const { io, db, config, metrics, log } = this.ctx;
    metrics.listenerReconnects.inc();
    await this.heartbeat().catch((err) => log.warn({ err: (err as Error).message }, "heartbeat after LISTEN reconnect failed"));
    const gap = { rooms: localRoomNames(io), users: localUserIds(io) };
    if (gap.rooms.length > 0 || gap.users.length > 0) {
      const changes = await sql.changesSince(db, gap.rooms, gap.users, lostAt - GAP_MARGIN_MS);
      // A LISTEN gap is often a database restart: a send whose commit landed just before it was
      // answered UNAVAILABLE and never published. Deliver what this relay has not.
      this.deliverMissed(changes.messages, "listen");
      for (const m of changes.members) {
        io.local.to(roomKey(m.roomName)).emit(m.op === "joined" ? "user:joined" : "user:left", { roomName: m.roomName, userId: m.userId });
      }
      if (config.enablePresence) {
        for (const p of changes.presence) {
          this.presence.add(
            { userId: p.userId, status: p.status, customStatus: p.customStatus ?? null, lastSeen: p.lastSeen ?? null },
            p.rooms,
          );
        }
      }
    }
    const users = localUserIds(io);
    if (users.length > 0) {
      const rows = await sql.roomNamesOfUsers(db, users);
      for (const { user_id, rooms } of rows) {
        const wanted = new Set(rooms.map(roomKey));
        for (const socket of await io.local.in(userKey(user_id)).fetchSockets()) {
          for (const r of socket.rooms) if (r.startsWith("room:") && !wanted.has(r)) socket.leave(r);
          for (const r of wanted) socket.join(r);
        }
      }
    }
    const localRooms = localRoomNames(io);
    if (localRooms.length > 0 && config.enableTyping) {
      const rows = await sql.currentTypers(db, localRooms);
      const typingRooms = new Set(rows.map((r) => r.room_name));
      for (const row of rows) {
        io.local.to(roomKey(row.room_name)).emit("typing:event", { roomName: row.room_name, threadId: row.thread_id, users: row.users });
      }
      // Rooms with no typer now: tell clients the room-level set is empty.
      for (const room of localRooms) {
        if (!typingRooms.has(room)) io.local.to(roomKey(room)).emit("typing:event", { roomName: room, threadId: null, users: [] });
      }
    }
  }
}
