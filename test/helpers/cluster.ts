// Relays as separate processes (the way they run in production), sharing one database and Redis.
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import path from "node:path";
import readline from "node:readline";
import jwt from "jsonwebtoken";
import { io, type Socket } from "socket.io-client";

export const CLUSTER_SECRET = "cluster-test-secret-0123456789";

export interface RelayProcess {
  nodeId: string;
  port: number;
  url: string;
  proc: ChildProcess;
  logs: string[];
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function spawnRelay(env: Record<string, string>, nodeId = `relay-${crypto.randomBytes(3).toString("hex")}`): Promise<RelayProcess> {
  const proc = spawn(process.execPath, ["--import", "tsx", path.resolve("test/cluster/relay-process.ts")], {
    env: {
      ...process.env,
      REALTIME_JWT_SECRET: CLUSTER_SECRET,
      REALTIME_PORT: "0",
      REALTIME_HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      REALTIME_NODE_ID: nodeId,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay ${nodeId} did not start:\n${logs.join("\n")}`)), 30_000);
    readline.createInterface({ input: proc.stdout! }).on("line", (line) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line);
        if (entry.msg === "relay listening") {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        // not a log line
      }
    });
    readline.createInterface({ input: proc.stderr! }).on("line", (line) => logs.push(line));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`relay ${nodeId} exited with ${code}:\n${logs.join("\n")}`));
    });
  });
  return {
    nodeId,
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    logs,
    exited,
    async kill(signal: NodeJS.Signals = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

export function token(userId: string, claims: Record<string, unknown> = {}): string {
  return jwt.sign({ sub: userId, ...claims }, CLUSTER_SECRET, { algorithm: "HS256", expiresIn: "1h" });
}

export type TestSocket = Socket & { authenticated: { userId: string; sessionId: string; rooms: string[] } };

/** Connects and waits for `authenticated`, whose payload is kept on the socket. */
export async function connect(url: string, userId: string, options: { reconnection?: boolean } = {}): Promise<TestSocket> {
  const socket = io(url, { auth: { token: token(userId) }, transports: ["websocket"], reconnection: options.reconnection ?? false, forceNew: true }) as TestSocket;
  socket.authenticated = await new Promise((resolve, reject) => {
    socket.once("authenticated", (payload) => resolve(payload));
    socket.once("connect_error", (err) => reject(err));
  });
  return socket;
}

export function nextEvent<T = any>(socket: Socket, event: string, predicate: (payload: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, handler);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const handler = (payload: T) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      socket.off(event, handler);
      resolve(payload);
    };
    socket.on(event, handler);
  });
}

/** Collects every payload of an event on a socket. */
export function collect<T = any>(socket: Socket, event: string): T[] {
  const seen: T[] = [];
  socket.on(event, (payload: T) => seen.push(payload));
  return seen;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, stepMs = 50): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}
