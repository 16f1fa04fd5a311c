// ping: answered from memory, with a pong event too.
import type { EventHandlers } from "./context.js";

export const pingEvents: EventHandlers<"ping"> = {
  ping(_payload, { socket }) {
    const pong = { timestamp: Date.now() };
    socket.emit("pong", pong);
    return pong;
  },
};
