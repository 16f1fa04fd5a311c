// Client events. Each one is rate limited, checked against its schema (protocol/schemas.ts, with
// the database's limits as last read: ctx.limits()) before any database call, handled by its
// family's module here, and answered with its acknowledgement {ok, data} / {ok:false, error}; on
// failure `error` is also emitted to the socket. Nothing a client sends can throw out of a
// handler. Adding an event: its types in protocol/events.ts, its schema in protocol/schemas.ts, its
// handler in its family's module below (room:history is in rooms.ts; the type of `handlers`
// refuses a client event without one).
import type { Logger } from "../../lib/logger.js";
import { assertShallow, clientEventSchemas, RealtimeError, toRealtimeError, type ClientEventName, type Schema } from "../../protocol/index.js";
import { sendError } from "../context.js";
import type { RelaySocket } from "../sockets.js";
import { authEvents, authGuards } from "./auth.js";
import type { EventCall, EventContext, EventGuards, EventHandler, EventHandlers } from "./context.js";
import { messageEvents, messageGuards } from "./messages.js";
import { pingEvents } from "./ping.js";
import { presenceEvents, presenceGuards } from "./presence.js";
import { roomEvents } from "./rooms.js";
import { typingEvents } from "./typing.js";

export type { EventContext } from "./context.js";
export { messageBatcher } from "./messages.js";
export { typingBatcher } from "./typing.js";
export { joinBatcher } from "./rooms.js";

const handlers: EventHandlers<ClientEventName> = {
  ...roomEvents,
  ...messageEvents,
  ...typingEvents,
  ...presenceEvents,
  ...authEvents,
  ...pingEvents,
};

const guards: EventGuards<ClientEventName> = { ...messageGuards, ...presenceGuards, ...authGuards };

type Ack = (answer: unknown) => void;

interface Route {
  schema: Schema<unknown>;
  handler: EventHandler<ClientEventName>;
  guard: EventGuards<ClientEventName>[ClientEventName];
}

/** Every client event's schema, handler and guard, built once for all sockets. */
const routes = new Map<string, Route>(
  (Object.keys(handlers) as ClientEventName[]).map((event) => [
    event,
    { schema: clientEventSchemas[event] as Schema<unknown>, handler: handlers[event] as EventHandler<ClientEventName>, guard: guards[event] },
  ]),
);

/**
 * Registers every client event on a socket that has just connected: one listener per socket (not
 * one closure per event per socket: tens of thousands of sockets hold them), which routes by name.
 * `log` is the socket's logger, made on first use.
 */
export function registerClientEvents(ctx: EventContext, socket: RelaySocket, log: () => Logger): void {
  const { config, metrics } = ctx;

  /** A socket that ignored its RATE_LIMITED answers long enough is told once more and closed. */
  let disconnecting = false;
  const rateLimitRefusal = (event: string, limit: "general" | "presence" | "typing" = "general"): RealtimeError | undefined => {
    if (disconnecting) return new RealtimeError("RATE_LIMITED", "disconnected: too many events after being rate limited");
    const refused = socket.data.limits.check(limit);
    if (!refused) return undefined;
    if (refused.disconnect) {
      disconnecting = true;
      metrics.rateLimitDisconnects.inc();
      log().warn({ event }, "disconnected for ignoring rate limits");
      sendError(ctx, socket, new RealtimeError("RATE_LIMITED", "disconnected: too many events after being rate limited", { disconnected: true }));
      // After this tick, so the acknowledgement below still goes out.
      setImmediate(() => socket.disconnect(true));
    }
    const [rate, what] =
      refused.limit === "presence"
        ? [config.presenceRateLimitPerSec, "presence updates"]
        : refused.limit === "typing"
          ? [config.typingRateLimitPerSec, "typing events"]
          : [config.rateLimitPerSec, "events"];
    return new RealtimeError("RATE_LIMITED", `more than ${rate} ${what} per second`, { limit: refused.limit, retryAfterMs: refused.retryAfterMs });
  };

  const call: EventCall = {
    ctx,
    socket,
    get log() {
      return log();
    },
    requireUser(action) {
      const identity = socket.data.identity;
      if (identity.anonymous) throw new RealtimeError("FORBIDDEN", `anonymous connections may not ${action}`);
      return identity.userId;
    },
    throttle(event, limit) {
      const refusal = rateLimitRefusal(event, limit);
      if (refusal) throw refusal;
    },
  };

  const handle = async (event: ClientEventName, route: Route, args: unknown[]): Promise<void> => {
    const ack = typeof args[args.length - 1] === "function" ? (args.pop() as Ack) : undefined;
    metrics.socketEvents.inc({ event });
    ctx.noteActivity(socket);
    try {
      const refusal = rateLimitRefusal(event);
      if (refusal) throw refusal;
      const raw = args[0];
      if (raw !== undefined && typeof raw === "object" && raw !== null) {
        assertShallow(raw);
        const size = Buffer.byteLength(JSON.stringify(raw));
        if (size > config.maxPayloadBytes) {
          throw new RealtimeError("PAYLOAD_TOO_LARGE", `payload is ${size} bytes; the limit is ${config.maxPayloadBytes}`);
        }
      }
      const guard = route.guard;
      const checkpoint = guard && ((afterField: string | null) => afterField === guard.after && guard.check(call));
      const payload = route.schema.parse(raw, { limits: ctx.limits(), checkpoint });
      const data = await route.handler(payload as never, call);
      ack?.({ ok: true, data: data ?? null });
    } catch (err) {
      const e = toRealtimeError(err);
      if (e.code === "INTERNAL") log().error({ err, event }, "handler failed");
      else log().debug({ code: e.code, event, reason: e.message }, "event refused");
      const error = { code: e.code, message: e.message, ...(e.details !== undefined ? { details: e.details } : {}) };
      try {
        ack?.({ ok: false, error });
      } catch {
        // a broken ack must not stop the error event
      }
      sendError(ctx, socket, e);
    }
  };

  // Client events arrive untyped: the schema makes the payload what the handler expects. An event
  // this server does not know (a typo, a newer client) is answered, not ignored: a client waiting
  // on its acknowledgement would otherwise wait forever.
  socket.onAny((event: unknown, ...args: unknown[]) => {
    const route = typeof event === "string" ? routes.get(event) : undefined;
    if (route) {
      void handle(event as ClientEventName, route, args);
      return;
    }
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
    sendError(ctx, socket, error);
  });
}
