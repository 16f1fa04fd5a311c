// Moved to lib/relay-role.ts (the CLI holds no SQL text); kept for importers not yet switched.
export * from "../../lib/relay-role.js";
