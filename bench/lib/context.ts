// Settings shared by the scenarios: quick mode, the bench database, the JWT secret, tokens.
import jwt from "jsonwebtoken";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const QUICK = process.env.BENCH_QUICK === "1" || process.env.BENCH_QUICK === "true";
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

export interface Scenario {
  name: string;
  title: string;
  run(): Promise<{ markdown: string; data: unknown }>;
}

/** Open file descriptors this process may hold (soft limit). */
export async function fdLimit(): Promise<number> {
  const fs = await import("node:fs");
  const text = fs.readFileSync("/proc/self/limits", "utf8");
  const m = /Max open files\s+(\d+|unlimited)/.exec(text);
  if (!m) return 1024;
  return m[1] === "unlimited" ? 1_000_000 : Number(m[1]);
}
