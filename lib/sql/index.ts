// The SQL API the relay calls: one typed function per SQL function, one module per domain of
// functions/. The only place the relay's SQL text lives.
export * from "./client.js";
export * from "./connections.js";
export * from "./events.js";
export * from "./health.js";
export * from "./messages.js";
export * from "./nodes.js";
export * from "./presence.js";
export * from "./rooms.js";
export * from "./tick.js";
export * from "./typing.js";
