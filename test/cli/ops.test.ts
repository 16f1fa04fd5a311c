// Operating the server from a shell: several relays from one directory (docs/operations.md, "Several
// relays" commands), a busy port, a misspelled database, a database that is still starting, the
// token usage error, and log output in a terminal and in a pipe. Real processes, real PostgreSQL.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase, withRoot } from "../helpers/db.js";
import { databaseUrl, TEST_REDIS_URL } from "../helpers/env.js";
import { stampedName } from "../helpers/names.js";
import { freePort } from "../helpers/ports.js";
import { alive } from "../helpers/processes.js";
import { sleep, until } from "../helpers/wait.js";
import { cliEnv, type CliProcess, type Env, errorLine, json, REPO_ROOT, runCli, startCli, tempDir } from "./run.js";

let db: TestDatabase;
let cwd: string;
const started: CliProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  cwd = tempDir("realtime-ops-");
});

afterAll(async () => {
  for (const p of started) {
    if (p.child.pid !== undefined && alive(p.child.pid)) {
      try {
        process.kill(-p.child.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
  await db?.drop();
  if (cwd) fs.rmSync(cwd, { recursive: true, force: true });
});

function track(p: CliProcess): CliProcess {
  started.push(p);
  return p;
}

/** Parses every line as JSON and checks no line names a top-level key twice. */
function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      for (const key of Object.keys(entry)) {
        // Values here are flat (no nested object repeats a key), so a count above one is a duplicate.
        const count = line.split(`"${key}":`).length - 1;
        if (count > 1 && typeof entry[key] !== "object") throw new Error(`key ${key} appears ${count} times in ${line}`);
      }
      return entry;
    });
}

describe("several relays from one directory", { timeout: 120_000 }, () => {
  it("the two npm start commands of docs/operations.md both run; status, logs and stop see both, or one with --node", async () => {
    // Setup: one directory, two relays as docs/operations.md starts them (npm start, different node ids and ports).
    const dir = path.join(cwd, "several");
    const [portA, portB] = [await freePort(), await freePort()];
    const common: Env = {
      ...cliEnv({}),
      DATABASE_URL: db.url,
      REALTIME_REDIS_URL: TEST_REDIS_URL,
      REALTIME_REDIS_PREFIX: stampedName("ops"),
      REALTIME_DATA_DIR: path.join(dir, ".realtime"),
      LOG_LEVEL: "info",
    };
    fs.mkdirSync(dir, { recursive: true });
    const npm = ["npm", "--prefix", REPO_ROOT];
    const a = track(startCli(["start"], { ...common, REALTIME_NODE_ID: "relay-a", REALTIME_PORT: String(portA) }, { cwd: dir, command: npm }));
    const b = track(startCli(["start"], { ...common, REALTIME_NODE_ID: "relay-b", REALTIME_PORT: String(portB) }, { cwd: dir, command: npm }));

    // Both serve.
    await a.waitFor(/Realtime server relay-a listening/);
    await b.waitFor(/Realtime server relay-b listening/);
    expect((await fetch(`http://127.0.0.1:${portA}/health`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${portB}/health`)).status).toBe(200);
    const run = path.join(dir, ".realtime", "run");
    expect(fs.readdirSync(run).sort()).toEqual(
      ["relay-a.json", "relay-a.log", "relay-a.pid", "relay-b.json", "relay-b.log", "relay-b.pid"],
    );
    const pidA = Number(fs.readFileSync(path.join(run, "relay-a.pid"), "utf8"));
    const pidB = Number(fs.readFileSync(path.join(run, "relay-b.pid"), "utf8"));

    // Another shell in that directory, with none of their settings (no REALTIME_PORT, no node id).
    const shell: Env = { ...cliEnv({}), DATABASE_URL: db.url, LOG_LEVEL: "warn" };
    const cli = (...args: string[]) => runCli(args, shell, { cwd: dir, timeoutMs: 60_000 });
    const status = json(await cli("status", "--json"));
    // (Something else on this machine may answer on the default port 3101: only named servers are ours.)
    expect(status.servers.filter((s: { name: string | null }) => s.name !== null)).toEqual([
      expect.objectContaining({ name: "relay-a", running: true, pid: pidA, url: `http://127.0.0.1:${portA}`, health: expect.objectContaining({ status: 200 }) }),
      expect.objectContaining({ name: "relay-b", running: true, pid: pidB, url: `http://127.0.0.1:${portB}`, health: expect.objectContaining({ status: 200 }) }),
    ]);
    const statusText = (await cli("status")).stdout;
    expect(statusText).toMatch(new RegExp(`Servers\\s+relay-a: running, pid ${pidA}, http://127\\.0\\.0\\.1:${portA} healthy`));
    expect(statusText).toMatch(new RegExp(`\\n\\s+relay-b: running, pid ${pidB}, http://127\\.0\\.0\\.1:${portB} healthy`));

    // logs: both by default (headed by name), one with --node; JSON lines when not a terminal.
    const logs = await cli("server", "logs", "5");
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain(`==> relay-a (${path.join(run, "relay-a.log")}) <==`);
    expect(logs.stdout).toContain(`==> relay-b (${path.join(run, "relay-b.log")}) <==`);
    const onlyB = await cli("server", "logs", "--node", "relay-b");
    expect(onlyB.stdout).not.toContain("==>");
    const entries = jsonLines(onlyB.stdout);
    expect(entries.some((e) => e.msg === "relay listening" && e.port === portB && e.nodeId === "relay-b")).toBe(true);
    expect(entries.every((e) => e.nodeId === "relay-b")).toBe(true);

    // A third start with relay-a's node id is refused, naming the running one.
    const again = await runCli(["server", "start"], { ...common, REALTIME_NODE_ID: "relay-a", REALTIME_PORT: String(await freePort()) }, { cwd: dir });
    expect(again.code).toBe(1);
    expect(errorLine(again)).toMatch(new RegExp(`^Error: a server named relay-a is already running \\(pid ${pidA}, http://127\\.0\\.0\\.1:${portA}\\)`));

    // stop --node stops one; the other keeps serving.
    const stopA = await cli("server", "stop", "--node", "relay-a");
    expect(stopA.code, stopA.stderr).toBe(0);
    expect(stopA.stdout.trim()).toBe(`Stopped the server relay-a (pid ${pidA}).`);
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect((await fetch(`http://127.0.0.1:${portB}/health`)).status).toBe(200);
    expect(json(await cli("status", "--json")).servers.map((s: { name: string }) => s.name).filter(Boolean)).toEqual(["relay-b"]);

    // stop with no flag stops every one left.
    const stopAll = await cli("server", "stop", "--json");
    expect(json(stopAll)).toEqual({ stopped: [{ node: "relay-b", pid: pidB }] });
    expect(await b.exited).toEqual({ code: 0, signal: null });
    expect(fs.readdirSync(run).sort()).toEqual(["relay-a.log", "relay-b.log"]);
    const none = await cli("server", "stop");
    expect(none.stdout).toContain("The server is not running");
  });
});

describe("start-up failures in one line", { timeout: 60_000 }, () => {
  it("a busy port: which port, and REALTIME_PORT to change it; nothing else printed, nothing started", async () => {
    // Setup: something listens on the port.
    const port = await freePort();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(port, "0.0.0.0", r));
    const dir = path.join(cwd, "busy");
    try {
      for (const env of [
        { ...cliEnv({}), DATABASE_URL: db.url, REALTIME_PORT: String(port), REALTIME_DATA_DIR: dir, LOG_LEVEL: "info" },
        // Embedded mode: refused before the embedded PostgreSQL would start.
        { ...cliEnv({}), REALTIME_JWT_SECRET: undefined, REALTIME_PORT: String(port), REALTIME_DATA_DIR: dir, LOG_LEVEL: "info" },
      ]) {
        const r = await runCli(["server", "start"], env, { cwd });

        expect(r.code).toBe(1);
        expect(r.stdout).toBe("");
        expect(errorLine(r)).toMatch(
          new RegExp(`^Error: port ${port} is already in use \\(another realtime server or program listens there\\): set REALTIME_PORT to a free port, e\\.g\\. REALTIME_PORT=\\d+$`),
        );
        expect(r.stderr).not.toMatch(/EADDRINUSE|LISTEN|\n\s+at /);
      }
      expect(fs.existsSync(path.join(dir, "pg"))).toBe(false);
      expect(fs.readdirSync(path.join(dir, "run"))).toEqual([]);
    } finally {
      blocker.close();
    }
  });

  it("a misspelled database name: it does not exist, realtime init creates it; the server never creates it", async () => {
    const name = stampedName("realtime_t_typo");
    const url = databaseUrl(name);
    const exists = () => withRoot(async (c) => (await c.query("select 1 from pg_database where datname = $1", [name])).rowCount === 1);
    try {
      const r = await runCli(["server", "start"], { ...cliEnv({}), DATABASE_URL: url, REALTIME_PORT: String(await freePort()), REALTIME_DATA_DIR: path.join(cwd, "typo") }, { cwd });

      expect(r.code).toBe(1);
      expect(errorLine(r)).toBe(`Error: the database at ${url} does not exist; create it and its schema with npx realtime init`);
      expect(await exists()).toBe(false);

      // What the line says to do works.
      const init = await runCli(["init"], { ...cliEnv({}), DATABASE_URL: url }, { cwd, timeoutMs: 60_000 });
      expect(init.code, init.stderr).toBe(0);
      expect(init.stdout).toContain(`Database: created ${url}`);
      expect(await exists()).toBe(true);
    } finally {
      await withRoot((c) => c.query(`drop database if exists "${name}" with (force)`));
    }
  });

  it("realtime token without a user: one usage line, exit 2", async () => {
    const r = await runCli(["token"], cliEnv({}), { cwd });

    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(errorLine(r)).toBe("Error: missing required argument: USER (see --help)");
  });
});

/**
 * A stand-in for a database that is not ready: refuses connections (nothing listens) until
 * `listen()`, then answers every startup with 57P03 "the database system is starting up" while
 * `starting`, then forwards to the real PostgreSQL.
 */
class StartingDatabase {
  readonly server: net.Server;
  starting = true;
  refusedStartups = 0;
  constructor(readonly port: number) {
    this.server = net.createServer((socket) => {
      socket.on("error", () => {});
      if (this.starting) {
        this.refusedStartups += 1;
        socket.once("data", () => {
          const fields = Buffer.from("SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0\0");
          const header = Buffer.alloc(5);
          header.write("E", 0);
          header.writeInt32BE(fields.length + 4, 1);
          socket.end(Buffer.concat([header, fields]));
        });
        return;
      }
      const upstream = net.connect(5432, "127.0.0.1");
      upstream.on("error", () => socket.destroy());
      socket.pipe(upstream).pipe(socket);
    });
  }
  listen(): Promise<void> {
    return new Promise((r) => this.server.listen(this.port, "127.0.0.1", r));
  }
  close(): void {
    this.server.close();
  }
}

describe("a database that is still starting", { timeout: 90_000 }, () => {
  it("the relay waits (logged once) through connection refused and 57P03, then serves", async () => {
    // Setup: the database's port refuses connections at first.
    const dbPort = await freePort();
    const fake = new StartingDatabase(dbPort);
    const url = new URL(db.url);
    url.host = `127.0.0.1:${dbPort}`;
    const port = await freePort();
    const p = track(
      startCli(["server", "start"], { ...cliEnv({}), DATABASE_URL: url.toString(), REALTIME_PORT: String(port), REALTIME_DATA_DIR: path.join(cwd, "wait"), LOG_LEVEL: "info" }, { cwd }),
    );
    try {
      await p.waitFor(/database not accepting connections yet/, 30_000);
      await sleep(1500);
      // Then it answers "starting up" for a while.
      await fake.listen();
      await until(() => fake.refusedStartups >= 2, 20_000, { what: "startups answered 57P03" });
      // Then it is ready.
      fake.starting = false;
      await p.waitFor(/Realtime server port-\d+ listening/, 30_000);

      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      const entries = jsonLines(p.stdout().split("\n").filter((l) => l.startsWith("{")).join("\n"));
      const waits = entries.filter((e) => e.msg === "database not accepting connections yet; waiting (REALTIME_DB_WAIT)");
      expect(waits).toHaveLength(1);
      expect(waits[0]).toMatchObject({ level: 40, reason: "connection refused", waitSeconds: 30 });
      expect(entries.some((e) => e.msg === "database is accepting connections")).toBe(true);
    } finally {
      process.kill(-p.child.pid!, "SIGTERM");
      await p.exited;
      fake.close();
    }
  });

  it("gives up after REALTIME_DB_WAIT with one line", async () => {
    const t0 = Date.now();
    const r = await runCli(
      ["server", "start"],
      { ...cliEnv({}), DATABASE_URL: "postgres://postgres@127.0.0.1:1/x", REALTIME_DB_WAIT: "2000", REALTIME_PORT: String(await freePort()), REALTIME_DATA_DIR: path.join(cwd, "giveup"), LOG_LEVEL: "error" },
      { cwd },
    );
    const ms = Date.now() - t0;

    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(
      "Error: cannot reach the database at postgres://postgres@127.0.0.1:1/x (connection refused); is PostgreSQL running? Check DATABASE_URL",
    );
    expect(ms).toBeGreaterThan(2000);
    expect(ms).toBeLessThan(15_000);
  });
});

describe("log output", { timeout: 60_000 }, () => {
  it("JSON lines without duplicated fields when stdout is not a terminal", async () => {
    const port = await freePort();
    const p = track(startCli(["server", "start"], { ...cliEnv({}), DATABASE_URL: db.url, REALTIME_PORT: String(port), REALTIME_NODE_ID: "json-node", REALTIME_DATA_DIR: path.join(cwd, "json"), LOG_LEVEL: "info" }, { cwd }));
    try {
      await p.waitFor(/Realtime server json-node listening/);
      const lines = p.stdout().split("\n").filter((l) => l.startsWith("{"));
      const entries = jsonLines(lines.join("\n"));
      const listening = entries.find((e) => e.msg === "relay listening");
      expect(listening).toMatchObject({ level: 30, nodeId: "json-node", port, pid: p.child.pid });
      expect(lines.find((l) => l.includes('"relay listening"'))!.split('"nodeId"').length - 1).toBe(1);
    } finally {
      process.kill(-p.child.pid!, "SIGTERM");
      await p.exited;
    }
  });

  it.skipIf(!fs.existsSync("/usr/bin/script"))("one readable line per entry in a terminal (a real pty), and server logs shows the file the same way", async () => {
    // Setup: `script` gives the server a pseudo-terminal as stdout.
    const port = await freePort();
    const dir = path.join(cwd, "tty");
    const env: Env = { ...cliEnv({}), DATABASE_URL: db.url, REALTIME_PORT: String(port), REALTIME_NODE_ID: "tty-node", REALTIME_DATA_DIR: dir, LOG_LEVEL: "info", TERM: "xterm" };
    const command = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(REPO_ROOT, "bin", "run.js"))} server start`;
    const p = track(startCli(["-qfec", command, "/dev/null"], env, { cwd, command: ["/usr/bin/script"] }));
    try {
      await p.waitFor(/Realtime server tty-node listening/);
      const text = p.stdout().replace(/\r/g, "");
      const line = text.split("\n").find((l) => l.includes("relay listening"));
      // 12:00:01.234 INFO  relay listening port=3101 host=0.0.0.0 redis=false (level coloured)
      expect(line).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} (\\x1b\\[\\d+m)?INFO (\\x1b\\[0m)? relay listening port=${port} host=0\\.0\\.0\\.0 redis=false$`));
      expect(text).not.toMatch(/^\{/m);

      // The log file keeps JSON; server logs in a terminal shows it readable, piped it stays JSON.
      const file = fs.readFileSync(path.join(dir, "run", "tty-node.log"), "utf8");
      expect(jsonLines(file).some((e) => e.msg === "relay listening")).toBe(true);
      const piped = await runCli(["server", "logs", "--node", "tty-node"], env, { cwd });
      expect(jsonLines(piped.stdout).some((e) => e.msg === "relay listening")).toBe(true);
      const logsCommand = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(REPO_ROOT, "bin", "run.js"))} server logs --node tty-node`;
      const inTerminal = track(startCli(["-qfec", logsCommand, "/dev/null"], { ...env, NO_COLOR: "1" }, { cwd, command: ["/usr/bin/script"] }));
      expect(await inTerminal.exited).toEqual({ code: 0, signal: null });
      expect(inTerminal.stdout().replace(/\r/g, "")).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  relay listening port=${port} host=0\\.0\\.0\\.0 redis=false$`, "m"));
    } finally {
      process.kill(-p.child.pid!, "SIGTERM");
      await p.exited;
    }
  });
});
