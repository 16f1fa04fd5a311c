// Processes as the server, the CLI and the embedded PostgreSQL see them: alive or not, when a pid
// started (to tell a live owner from a reused pid), its command line, and a plain sleep.
import { execFileSync } from "node:child_process";
import fs from "node:fs";

/** Alive and not a zombie. EPERM (another user's process) counts as alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
  } catch {
    // no /proc (macOS): kill(0) is all we have
  }
  return true;
}

/** The kernel's start time of a process (Linux), to tell a live owner from a reused pid. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** A process's arguments (/proc, else ps); undefined when neither can tell. */
export function commandLine(pid: number): string[] | undefined {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (raw !== "") return raw.split("\0").filter(Boolean);
  } catch {
    // fall through to ps
  }
  try {
    const out = execFileSync("ps", ["-p", String(pid), "-o", "command="], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5000,
    }).trim();
    return out === "" ? undefined : out.split(/\s+/);
  } catch {
    return undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
