// The wire protocol, in one place: event names with their payloads and acknowledgements, the
// payload schemas, the error codes with their SQLSTATEs, and the NOTIFY payloads. Imported by the
// relay, the CLI, the client SDK (in browsers too: nothing here may depend on Node) and the tests.

export const PROTOCOL_VERSION = 1;

export * from "./errors.js";
export * from "./events.js";
export * from "./notify.js";
export * from "./schema.js";
export * from "./schemas.js";
