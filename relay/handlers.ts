// Client events. Each one is validated before any database call, calls one SQL function (none for
// ping), answers its acknowledgement {ok, data} / {ok:false, error}, and on failure also emits
// `error` to the socket. Nothing a client sends can throw out of a handler.
import type { Logger } from "../lib/logger.js";
import { typingKey } from "./limits.js";
import { RealtimeError, toRealtimeError } from "../protocol/index.js";
import { roomKey, type OutgoingMessage, type Relay, type RelaySocket } from "./server.js";
import * as v from "./validate.js";
import * as sql from "../lib/sql/index.js";

type Handler = (payload: unknown) => Promise<unknown> | unknown;

const PRESENCE_STATUSES = ["online", "away", "busy", "offline"] as const;

export function registerHandlers(relay: Relay, socket: RelaySocket, log: Logger): void {
  const { config, db, metrics } = relay;
  const identity = () => socket.data.identity;

  const requireUser = (action: string) => {
    if (identity().anonymous) throw new RealtimeError("FORBIDDEN", `anonymous connections may not ${action}`);
    return identity().userId;
  };

  /** A socket that ignored its RATE_LIMITED answers long enough is told once more and closed. */
  let disconnecting = false;
  const rateLimitRefusal = (event: string, limit: "general" | "presence" | "typing" = "general"): RealtimeError | undefined => {
    if (disconnecting) return new RealtimeError("RATE_LIMITED", "disconnected: too many events after being rate limited");
    const refused = socket.data.limits.check(limit);
    if (!refused) return undefined;
    if (refused.disconnect) {
      disconnecting = true;
      metrics.rateLimitDisconnects.inc();
      log.warn({ event }, "disconnected for ignoring rate limits");
      relay.sendError(socket, new RealtimeError("RATE_LIMITED", "disconnected: too many events after being rate limited", { disconnected: true }));
      // After this tick, so the acknowledgement below still goes out.
      setImmediate(() => socket.disconnect(true));
    }
    const [rate, what] =
      refused.limit === "presence"
        ? [config.presenceRateLimitPerSec, "presence updates"]
        : refused.limit === "typing"
          ? [config.typingRateLimitPerSec, "typing events"]
          : [config.rateLimitPerSec, "events"];
    return new RealtimeError("RATE_LIMITED", `more than ${rate} ${what} per second`, { limit: refused.limit });
  };

  const throttle = (event: string, limit: "presence" | "typing") => {
    const refusal = rateLimitRefusal(event, limit);
    if (refusal) throw refusal;
  };

  const handled = new Set<string>();
  const on = (event: string, handler: Handler) => {
    handled.add(event);
    socket.on(event, async (...args: unknown[]) => {
      const ack = typeof args[args.length - 1] === "function" ? (args.pop() as (r: unknown) => void) : undefined;
      metrics.socketEvents.inc({ event });
      relay.noteActivity(socket);
      try {
        const refusal = rateLimitRefusal(event);
        if (refusal) throw refusal;
        const payload = args[0];
        if (payload !== undefined && typeof payload === "object" && payload !== null) {
          v.shallow(payload);
          const size = Buffer.byteLength(JSON.stringify(payload));
          if (size > config.maxPayloadBytes) {
            throw new RealtimeError("PAYLOAD_TOO_LARGE", `payload is ${size} bytes; the limit is ${config.maxPayloadBytes}`);
          }
        }
        const data = await handler(payload);
        ack?.({ ok: true, data: data ?? null });
      } catch (err) {
        const e = toRealtimeError(err);
        if (e.code === "INTERNAL") log.error({ err, event }, "handler failed");
        else log.debug({ code: e.code, event, reason: e.message }, "event refused");
        const error = { code: e.code, message: e.message, ...(e.details !== undefined ? { details: e.details } : {}) };
        try {
          ack?.({ ok: false, error });
        } catch {
          // a broken ack must not stop the error event
        }
        relay.sendError(socket, e);
      }
    });
  };

  // Joins in flight count toward the room cap, so concurrent joins cannot overshoot it.
  let joining = 0;
  const roomCount = () => {
    let n = 0;
    for (const key of socket.rooms) if (key.startsWith("room:")) n++;
    return n;
  };

  on("room:join", async (raw) => {
    const p = v.object(raw);
    const roomName = v.roomName(p);
    const since = v.nonNegativeInteger(p, "since");
    const id = identity();
    if (!socket.rooms.has(roomKey(roomName)) && roomCount() + joining >= config.maxRoomsPerSocket) {
      throw new RealtimeError("LIMIT_EXCEEDED", `this connection is in ${config.maxRoomsPerSocket} rooms, the most it may join`, { limit: "roomsPerSocket" });
    }
    joining++;
    let result: unknown;
    try {
      result = await sql.joinRoom(db, {
        roomName,
        userId: id.anonymous ? null : id.userId,
        anonymous: id.anonymous,
        autoCreate: config.autoCreateRooms,
        since: since ?? null,
        replayLimit: config.replayLimit,
      });
      await socket.join(roomKey(roomName));
    } finally {
      joining--;
    }
    relay.eventLog.record("join", id.anonymous ? null : id.userId, roomName, { socketId: socket.id });
    return result;
  });

  on("room:leave", async (raw) => {
    const roomName = v.roomName(v.object(raw));
    const id = identity();
    let left = false;
    if (!id.anonymous) {
      left = await sql.leaveRoom(db, roomName, id.userId);
    }
    // The member notification moves every socket of the user out; this one leaves now.
    await socket.leave(roomKey(roomName));
    relay.eventLog.record("leave", id.anonymous ? null : id.userId, roomName, { socketId: socket.id });
    return { roomName, left };
  });

  on("message:send", async (raw) => {
    const p = v.object(raw);
    const roomName = v.roomName(p);
    const userId = requireUser("send messages");
    const content = v.string(p, "content", { max: config.maxMessageLength });
    const threadId = v.threadId(p);
    const metadata = v.optionalJsonObject(p, "metadata", 8192);
    const clientMessageId = v.clientMessageId(p);
    const outgoing: OutgoingMessage & { clientMessageId?: string } = {
      roomName,
      userId,
      content,
      threadId: threadId ?? null,
      metadata: metadata ?? null,
      roles: identity().roles,
      ...(clientMessageId !== undefined ? { clientMessageId } : {}),
    };
    const { duplicate, ...message } = await relay.messages.submit(outgoing);
    // A retry of a clientMessageId already stored (the acknowledgement was lost, the client
    // reconnected, maybe to another relay): SQL stored nothing and answered the stored message.
    // Its message:new went out with the first send, so it is only acknowledged, not delivered again.
    if (duplicate) return message;
    metrics.messages.inc();
    // Sending cleared the sender's typing here in SQL: the next start must reach SQL again.
    socket.data.limits.typingStopped(typingKey(roomName, threadId));
    // Through the adapter: every relay's sockets in the room, exactly once.
    relay.io.to(roomKey(roomName)).emit("message:new", message);
    return message;
  });

  on("typing:start", async (raw) => {
    const p = v.object(raw);
    const roomName = v.roomName(p);
    const threadId = v.threadId(p);
    const userId = requireUser("type");
    if (!config.enableTyping) return { changed: false, enabled: false };
    throttle("typing:start", "typing");
    // Clients that send typing:start on every keystroke are common: a repeat within the throttle
    // is answered from memory, and the indicator it would refresh is still live.
    const key = typingKey(roomName, threadId);
    // Only while the socket is still in the room: after a leave or a removal the repeat must reach
    // SQL and be refused, not be acknowledged from memory.
    if (socket.rooms.has(roomKey(roomName)) && socket.data.limits.typingThrottled(key)) return { changed: false };
    relay.eventLog.record("typing", userId, roomName, { threadId: threadId ?? null, state: "start" });
    const result = await relay.typing.submit({ op: "start", roomName, userId, threadId: threadId ?? null, socketId: socket.id });
    socket.data.limits.typingStarted(key);
    return result;
  });

  on("typing:stop", async (raw) => {
    const p = v.object(raw);
    const roomName = v.roomName(p);
    const threadId = v.threadId(p);
    const userId = requireUser("type");
    if (!config.enableTyping) return { changed: false, enabled: false };
    throttle("typing:stop", "typing");
    socket.data.limits.typingStopped(typingKey(roomName, threadId));
    relay.eventLog.record("typing", userId, roomName, { threadId: threadId ?? null, state: "stop" });
    const { changed } = await relay.typing.submit({ op: "stop", roomName, userId, threadId: threadId ?? null, socketId: socket.id });
    return { changed };
  });

  on("presence:update", async (raw) => {
    const p = v.object(raw);
    const userId = requireUser("set presence");
    if (!config.enablePresence) throw new RealtimeError("FORBIDDEN", "presence is disabled on this server");
    const status = v.oneOf(p, "status", PRESENCE_STATUSES);
    // customStatus absent: keep; null: clear; object: set.
    let custom: Record<string, unknown> | null | undefined;
    if ("customStatus" in p && p.customStatus !== undefined) {
      if (p.customStatus === null) custom = null;
      else {
        const c = v.object(p.customStatus, "customStatus");
        v.optionalString(c, "text", { max: 128, min: 0 });
        v.optionalString(c, "emoji", { max: 32, min: 0 });
        v.optionalString(c, "expiresAt", { max: 64 });
        const extra = Object.keys(c).filter((k) => !["text", "emoji", "expiresAt"].includes(k));
        if (extra.length > 0) v.bad(`customStatus may only have text, emoji and expiresAt (got ${extra.slice(0, 3).join(", ")})`);
        custom = c;
      }
    }
    throttle("presence:update", "presence");
    relay.eventLog.record("presence", userId, null, { status });
    return sql.setPresence(db, userId, status, custom);
  });

  on("presence:get", async (raw) => {
    const p = v.object(raw);
    const userIds = v.stringArray(p, "userIds", 100, 255);
    if (config.presenceVisibility === "all") {
      return sql.getPresence(db, userIds);
    }
    const id = identity();
    return sql.getVisiblePresence(db, { userId: id.anonymous ? null : id.userId, anonymous: id.anonymous }, userIds);
  });

  on("auth:refresh", async (raw) => {
    const p = v.object(raw);
    if (identity().anonymous) throw new RealtimeError("FORBIDDEN", "anonymous connections have no token to refresh");
    const fresh = relay.auth.verify(v.string(p, "token", { max: 8192 }));
    if (fresh.userId !== identity().userId) {
      throw new RealtimeError("UNAUTHORIZED", "the new token is for another user");
    }
    socket.data.identity = fresh;
    relay.scheduleExpiry(socket);
    return { userId: fresh.userId, exp: fresh.exp ?? null };
  });

  on("ping", () => {
    const pong = { timestamp: Date.now() };
    socket.emit("pong", pong);
    return pong;
  });

  // An event this server does not know (a typo, a newer client) is answered, not ignored: a client
  // waiting on its acknowledgement would otherwise wait forever.
  socket.onAny((event: unknown, ...args: unknown[]) => {
    if (typeof event === "string" && handled.has(event)) return;
    const name = typeof event === "string" ? event.slice(0, 64) : typeof event;
    metrics.socketEvents.inc({ event: "unknown" });
    const error = rateLimitRefusal("unknown") ?? new RealtimeError("BAD_REQUEST", `unknown event ${JSON.stringify(name)}`);
    const ack = args[args.length - 1];
    if (typeof ack === "function") {
      try {
        ack({ ok: false, error: { code: error.code, message: error.message } });
      } catch {
        // a broken ack must not stop the error event
      }
    }
    relay.sendError(socket, error);
  });
}
