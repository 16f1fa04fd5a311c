// Child processes in tests: relays spawned as processes (the way they run in production, sharing
// one database and Redis), and what is left of processes a test started.
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { CLUSTER_SECRET } from "./tokens.js";

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

/** True when the process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return true;
  }
}

/** Live processes (other than this one) whose command line mentions `text` (e.g. a postmaster's -D directory). */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmd.includes(text) && alive(Number(entry))) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}
