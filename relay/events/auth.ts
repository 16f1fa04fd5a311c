// auth:refresh: a fresh token for the same user extends the connection past the old token's expiry.
import { RealtimeError } from "../../protocol/index.js";
import type { EventCall, EventGuards, EventHandlers } from "./context.js";

function refusesAnonymous({ socket }: EventCall): void {
  if (socket.data.identity.anonymous) throw new RealtimeError("FORBIDDEN", "anonymous connections have no token to refresh");
}

export const authGuards: EventGuards<"auth:refresh"> = {
  "auth:refresh": { after: null, check: refusesAnonymous },
};

export const authEvents: EventHandlers<"auth:refresh"> = {
  "auth:refresh"({ token }, call) {
    const { ctx, socket } = call;
    refusesAnonymous(call);
    const current = socket.data.identity;
    const fresh = ctx.auth.verify(token);
    if (fresh.userId !== current.userId) throw new RealtimeError("UNAUTHORIZED", "the new token is for another user");
    socket.data.identity = fresh;
    ctx.scheduleExpiry(socket);
    return { userId: fresh.userId, exp: fresh.exp ?? null };
  },
};
