// Runs the built CLI (bin/run.js -> dist/) as a user would: a child process with its own environment.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CLI_JWT_SECRET } from "../helpers/tokens.js";
import { sleep } from "../helpers/wait.js";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = path.join(REPO_ROOT, "bin", "run.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Env = Record<string, string | undefined>;

/** A clean environment: nothing from the developer's shell or .env leaks into the CLI. */
export function cliEnv(vars: Env): Env {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: "warn",
    REALTIME_JWT_SECRET: CLI_JWT_SECRET,
    ...vars,
  };
}

/** A temporary directory (the CLI's working and data directory), removed by the caller. */
export function tempDir(prefix = "realtime-cli-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function runCli(args: string[], env: Env, options: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const cleanEnv = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: cleanEnv, cwd: options.cwd ?? os.tmpdir(), timeout: options.timeoutMs ?? 30_000, maxBuffer: 10 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** Parses stdout as JSON, failing with the whole output when it is not. */
export function json<T = any>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout or stderr matches; rejects on exit or timeout with both outputs. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts a long-running command (a foreground server) the way a shell does, in its own process
 * group (so `kill(-pid)` is a terminal's Ctrl-C). `command` is [executable, ...args]; default the CLI.
 */
export function startCli(args: string[], env: Env, options: { cwd?: string; command?: string[] } = {}): CliProcess {
  const cleanEnv = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
  const [file, ...pre] = options.command ?? [process.execPath, BIN];
  const child = spawn(file, [...pre, ...args], { env: cleanEnv, cwd: options.cwd ?? os.tmpdir(), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out) && !pattern.test(err)) {
        if (done || Date.now() > deadline) {
          throw new Error(`${done ? "exited" : "timed out"} before ${pattern}\nstdout:\n${out}\nstderr:\n${err}`);
        }
        await sleep(25);
      }
    },
  };
}

/** The one line a failing command prints on stderr. */
export function errorLine(result: CliResult): string {
  const lines = result.stderr.trim().split("\n");
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got:\n${result.stderr}`);
  return lines[0];
}
