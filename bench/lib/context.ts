// Settings shared by the scenarios: quick mode, the bench database, the JWT secret, tokens.
import jwt from "jsonwebtoken";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const QUICK = process.env.BENCH_QUICK === "1" || process.env.BENCH_QUICK === "true";
/** Runs of each scenario; headline figures are the median of the runs (min and max shown). */
export const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? (QUICK ? 1 : 3)) || 1);
export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const ROOT_DIR = path.resolve(BENCH_DIR, "..");
export const RESULTS_DIR = path.join(BENCH_DIR, "results");

export const PG_HOST = process.env.BENCH_PGHOST ?? "127.0.0.1";
export const PG_PORT = Number(process.env.BENCH_PGPORT ?? 5432);
export const PG_USER = process.env.BENCH_PGUSER ?? "postgres";
export const BENCH_DB = process.env.BENCH_DATABASE ?? "realtime_bench";
export const DATABASE_URL = `postgres://${PG_USER}@${PG_HOST}:${PG_PORT}/${BENCH_DB}`;
export const ROOT_URL = `postgres://${PG_USER}@${PG_HOST}:${PG_PORT}/postgres`;

export const JWT_SECRET = "bench-secret-0123456789abcdef";

export function token(userId: string): string {
  return jwt.sign({ sub: userId }, JWT_SECRET, { algorithm: "HS256", expiresIn: "3h" });
}

/** CPU of the servers under test and of the load generator (this process). */
export const SERVER_CPU = "0";
export const LOAD_CPU = "1";

export interface ScenarioResult {
  scenario: string;
  title: string;
  quick: boolean;
  startedAt: string;
  durationSec: number;
  markdown: string;
  data: unknown;
}

/**
 * One figure a target is judged on, from one run: the relay's value and, where there is one, the
 * bare server's. The runner takes the median of the runs for each (min and max shown) and decides
 * met/missed with check() on the medians; no check: reported only.
 */
export interface Headline {
  metric: string;
  target: string;
  unit: "ms" | "/s" | "count" | "B" | "x" | "%" | "s";
  relay: number;
  bare?: number;
  check?: (relay: number, bare: number | undefined) => boolean;
  /** "capped": the load generator could not offer the target's load (shown instead of met). */
  capped?: boolean;
  note?: string;
}

export interface ScenarioOutput {
  /** This run's detail (tables below the headline table). */
  markdown: string;
  data: unknown;
  headlines?: Headline[];
}

export interface Scenario {
  name: string;
  title: string;
  /** Not part of a plain `npm run bench` (run it by name). */
  optional?: boolean;
  run(): Promise<ScenarioOutput>;
}

/** Open file descriptors this process may hold (soft limit). */
export async function fdLimit(): Promise<number> {
  const fs = await import("node:fs");
  const text = fs.readFileSync("/proc/self/limits", "utf8");
  const m = /Max open files\s+(\d+|unlimited)/.exec(text);
  if (!m) return 1024;
  return m[1] === "unlimited" ? 1_000_000 : Number(m[1]);
}
