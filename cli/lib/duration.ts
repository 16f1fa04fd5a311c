// Durations on the command line: 30s, 15m, 1h, 7d, 2w (and ms).
import { CliError } from "./errors.js";

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** Milliseconds of a duration like 30s, 15m, 1h, 7d; throws a one-line CliError naming the flag. */
export function parseDuration(input: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|sec|s|min|m|h|d|w)\s*$/i.exec(input);
  if (!m) throw new CliError(`${flag} must be a duration like 30s, 15m, 1h or 7d (got "${input}")`, 2);
  const ms = Math.round(Number(m[1]) * UNITS[m[2].toLowerCase()]);
  if (!Number.isFinite(ms) || ms <= 0) throw new CliError(`${flag} must be greater than zero (got "${input}")`, 2);
  return ms;
}

/** A PostgreSQL interval literal for a number of milliseconds. */
export function toInterval(ms: number): string {
  return `${ms} milliseconds`;
}

/** 3600000 -> "1h", 90000 -> "1m30s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [["d", 86_400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.join("");
}
