// Starts a bench server (relay or bare Socket.io) as its own process pinned to CPU 0, and talks to
// it over IPC.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { ServerStats } from "../servers/ipc.js";
import { BENCH_DIR, DATABASE_URL, JWT_SECRET, RESULTS_DIR, ROOT_DIR, SERVER_CPU } from "./context.js";

export type ServerKind = "relay" | "bare";

export interface ServerHandle {
  kind: ServerKind;
  port: number;
  pid: number;
  url: string;
  stats(gc?: boolean): Promise<ServerStats>;
  stop(): Promise<void>;
  /**
   * SIGTERM (the server shuts down the way it does in production: closes its sockets, marks its
   * connections closed), then resolves once the process has exited (SIGKILL after timeoutMs).
   */
  terminate(timeoutMs?: number): Promise<void>;
}

/** The relay's environment in every scenario (printed in the report). */
export function relayEnv(maxConnections: number): Record<string, string> {
  return {
    DATABASE_URL,
    REALTIME_JWT_SECRET: JWT_SECRET,
    REALTIME_HOST: "127.0.0.1",
    REALTIME_PORT: "0",
    REALTIME_MAX_CONNECTIONS: String(maxConnections),
    REALTIME_RATE_LIMIT: "100000",
    REALTIME_RATE_BURST: "1000000",
    // The benchmarks measure throughput, not the abuse limits; the typing scenario's refreshes
    // (one a second per typer) are meant to reach SQL, so the start throttle is off.
    REALTIME_PRESENCE_RATE_LIMIT: "10000",
    REALTIME_TYPING_RATE_LIMIT: "10000",
    REALTIME_TYPING_THROTTLE: "0",
    LOG_LEVEL: "warn",
    REALTIME_LOG_EVENTS: "false",
    REALTIME_DEMO: "false",
    REALTIME_NODE_ID: "bench-relay",
  };
}

/** relayEnv as printed in reports: every setting that differs from the relay's default. */
export function relaySettings(): Record<string, string> {
  const env = relayEnv(0);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k === "DATABASE_URL") out[k] = v;
    else if (k === "REALTIME_JWT_SECRET") out[k] = "(set, HS256)";
    else if (k === "REALTIME_MAX_CONNECTIONS") out[k] = "(load + margin)";
    else out[k] = v;
  }
  return out;
}

export async function startServer(
  kind: ServerKind,
  opts: {
    maxConnections?: number;
    profileName?: string;
    /** Overrides of relayEnv (the soak turns Redis and the event log on). */
    env?: Record<string, string>;
    /** Listen on this port (0: any free port); a restarted server reuses its predecessor's. */
    port?: number;
  } = {},
): Promise<ServerHandle> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...relayEnv(opts.maxConnections ?? 50_000), ...opts.env };
  if (opts.port !== undefined) env.REALTIME_PORT = String(opts.port);
  delete env.BENCH_CHILD;
  const nodeArgs = ["--expose-gc", "--max-old-space-size=4096"];
  if (process.env.BENCH_PROFILE && opts.profileName) {
    // One directory per server: tsx's loader thread writes a profile of its own next to the main one.
    const dir = path.join(RESULTS_DIR, "profiles", `${opts.profileName}-${kind}-${Date.now()}`);
    fs.mkdirSync(dir, { recursive: true });
    nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${dir}`);
  }
  const child: ChildProcess = spawn(
    "taskset",
    ["-c", SERVER_CPU, process.execPath, ...nodeArgs, "--import", "tsx", path.join(BENCH_DIR, "servers", `${kind}.ts`)],
    { cwd: ROOT_DIR, env, stdio: ["ignore", "inherit", "inherit", "ipc"] },
  );
  let nextId = 1;
  const waiting = new Map<number, (m: any) => void>();
  let exited = false;
  const ready = new Promise<{ port: number; pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} server did not start within 60 s`)), 60_000);
    child.on("message", (m: any) => {
      if (m?.type === "ready") {
        clearTimeout(timer);
        resolve({ port: m.port, pid: m.pid });
      } else if (m?.id !== undefined) {
        waiting.get(m.id)?.(m);
        waiting.delete(m.id);
      }
    });
    child.once("exit", (code) => {
      exited = true;
      clearTimeout(timer);
      reject(new Error(`${kind} server exited with code ${code} before it was ready`));
      for (const w of waiting.values()) w({ type: "exited" });
    });
  });
  const { port, pid } = await ready;
  const request = (type: string, extra: Record<string, unknown> = {}, timeoutMs = 30_000) =>
    new Promise<any>((resolve, reject) => {
      if (exited) return reject(new Error(`${kind} server has exited`));
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`${kind} server did not answer ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      child.send({ type, id, ...extra });
    });
  return {
    kind,
    port,
    pid,
    url: `http://127.0.0.1:${port}`,
    async stats(gc = false) {
      const m = await request("stats", { gc });
      if (!m.stats) throw new Error(`${kind} server has exited`);
      return m.stats as ServerStats;
    },
    async terminate(timeoutMs = 30_000) {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await gone;
      clearTimeout(t);
    },
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      await request("stop", {}, 20_000).catch(() => child.kill("SIGKILL"));
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (!exited) child.kill("SIGKILL");
    },
  };
}
