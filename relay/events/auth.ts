// auth:refresh: a fresh token for the same user extends the connection past the old token's expiry.
import { RealtimeError } from "../../protocol/index.js";
import type { EventHandlers } from "./context.js";

export const authEvents: EventHandlers<"auth:refresh"> = {
  "auth:refresh"({ token }, { ctx, socket }) {
    const current = socket.data.identity;
    if (current.anonymous) throw new RealtimeError("FORBIDDEN", "anonymous connections have no token to refresh");
    const fresh = ctx.auth.verify(token);
    if (fresh.userId !== current.userId) throw new RealtimeError("UNAUTHORIZED", "the new token is for another user");
    socket.data.identity = fresh;
    ctx.scheduleExpiry(socket);
    return { userId: fresh.userId, exp: fresh.exp ?? null };
  },
};
