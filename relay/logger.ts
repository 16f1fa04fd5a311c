// One pino logger; modules take children with scoped fields (socketId, userId, room).
import pino from "pino";

export type Logger = pino.Logger;

export function createLogger(level: string, fields: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...fields },
    // Tokens and secrets never reach the log, even when a handshake object is logged whole.
    redact: ["token", "auth.token", "*.token", "headers.authorization", "*.authorization", "password", "secret"],
  });
}
