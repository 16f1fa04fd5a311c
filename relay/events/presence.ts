// presence:update and presence:get. Changes reach sockets as NOTIFY (delivery.ts).
import * as sql from "../../lib/sql/index.js";
import { RealtimeError } from "../../protocol/index.js";
import type { EventCall, EventGuards, EventHandlers } from "./context.js";

function mayUpdatePresence({ ctx, requireUser }: EventCall): string {
  const userId = requireUser("set presence");
  if (!ctx.config.enablePresence) throw new RealtimeError("FORBIDDEN", "presence is disabled on this server");
  return userId;
}

export const presenceGuards: EventGuards<"presence:update"> = {
  "presence:update": { after: null, check: mayUpdatePresence },
};

export const presenceEvents: EventHandlers<"presence:update" | "presence:get"> = {
  async "presence:update"({ status, customStatus }, call) {
    const { ctx, throttle } = call;
    const userId = mayUpdatePresence(call);
    throttle("presence:update", "presence");
    ctx.eventLog.record("presence", userId, null, { status });
    return sql.setPresence(ctx.db, userId, status, customStatus as Record<string, unknown> | null | undefined);
  },

  async "presence:get"({ userIds }, { ctx, socket }) {
    if (ctx.config.presenceVisibility === "all") return sql.getPresence(ctx.db, userIds);
    const id = socket.data.identity;
    return sql.getVisiblePresence(ctx.db, { userId: id.anonymous ? null : id.userId, anonymous: id.anonymous }, userIds);
  },
};
