// The configuration every command reads: .env in the working directory, then the environment.
import { loadConfig, loadDotEnv, type Config } from "../../lib/config.js";

export function loadSettings(): Readonly<Config> {
  loadDotEnv();
  return loadConfig();
}

/** True when LOG_LEVEL asks for debugging output (stack traces on failure). */
export function debugEnabled(): boolean {
  const level = (process.env.LOG_LEVEL ?? "").trim().toLowerCase();
  return level === "debug" || level === "trace";
}
