// Ctrl-C at any moment of `npm start` with the embedded default database leaves nothing running,
// and `realtime status` in another shell tells the truth before and after. Real processes: npm,
// the CLI, initdb and the postmaster; "Ctrl-C" is SIGINT to the process group, as a terminal sends it.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliProcess, type Env, json, REPO_ROOT, runCli, startCli, tempDir } from "../cli/run.js";
import { freePort } from "../helpers/ports.js";
import { alive, processesMentioning } from "../helpers/processes.js";
import { sleep, until } from "../helpers/wait.js";

let base: string;
let dataDir: string;
let env: Env;
const started: CliProcess[] = [];

beforeAll(async () => {
  base = tempDir("realtime-interrupt-");
  // As root the postgres OS user must reach the data dir (mkdtemp makes 0700; relocation is tested elsewhere).
  fs.chmodSync(base, 0o711);
  dataDir = path.join(base, ".realtime");
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: "info",
    REALTIME_EMBEDDED_PG_PORT: String(await freePort()),
    REALTIME_PORT: String(await freePort()),
  };
});

afterAll(async () => {
  for (const p of started) {
    try {
      process.kill(-p.child.pid!, "SIGKILL");
    } catch {
      // gone
    }
  }
  for (const pid of processesMentioning(dataDir)) process.kill(pid, "SIGKILL");
  fs.rmSync(base, { recursive: true, force: true });
});

/** `npm start` in the checkout with this data directory, as its own process group (a terminal's job). */
function npmStart(): CliProcess {
  const p = startCli(["--prefix", REPO_ROOT, "start"], { ...env, REALTIME_DATA_DIR: dataDir }, { cwd: base, command: ["npm"] });
  started.push(p);
  return p;
}

function ctrlC(p: CliProcess): void {
  process.kill(-p.child.pid!, "SIGINT");
}

/** Another shell in the same directory, with none of the server's settings. */
function status() {
  return runCli(["status", "--json"], { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "warn" }, { cwd: base, timeoutMs: 30_000 });
}

/** After the interrupted start: the job is gone, no process uses the data dir, status says so. */
async function expectNothingRunning(p: CliProcess, what: string): Promise<void> {
  const exit = await Promise.race([p.exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 30_000))]);
  expect(exit, `${what}: npm start did not exit\n${p.stdout()}\n${p.stderr()}`).not.toBe("hung");
  await until(() => processesMentioning(dataDir).length === 0, 10_000, { what: `${what}: no process using ${dataDir}` }).catch(() => {});
  expect(processesMentioning(dataDir), `${what}: processes left: ${p.stdout()}`).toEqual([]);
  const runDir = path.join(dataDir, "run");
  expect(fs.existsSync(runDir) ? fs.readdirSync(runDir).filter((f) => !f.endsWith(".log")) : [], what).toEqual([]);
  const s = json(await status());
  expect(s.database, what).toMatchObject({ embedded: true, reachable: false, running: false });
  expect(s.servers.filter((x: { name: string | null }) => x.name !== null), what).toEqual([]);
}

describe("Ctrl-C during npm start (embedded PostgreSQL)", { timeout: 240_000 }, () => {
  it("while initdb runs (first start): initdb and the job stop, nothing is left", async () => {
    const p = npmStart();
    await until(() => fs.existsSync(dataDir) && fs.readdirSync(dataDir).some((f) => f.startsWith("pg.init-")), 60_000, { what: "initdb to start" });
    ctrlC(p);
    await expectNothingRunning(p, "during initdb");
    expect(fs.readdirSync(dataDir).filter((f) => f.startsWith("pg.init-") || f.startsWith("pg.pwtmp-"))).toEqual([]);
  });

  it("a full start: another shell finds the URL and the embedded port (no settings); Ctrl-C stops both", async () => {
    // The server in the foreground, the default data dir ./.realtime of its working directory.
    const p = startCli(["server", "start"], env, { cwd: base });
    started.push(p);
    await p.waitFor(/Realtime server port-\d+ listening/, 120_000);

    const s = json(await status());
    expect(s.database).toMatchObject({ embedded: true, reachable: true, port: Number(env.REALTIME_EMBEDDED_PG_PORT) });
    expect(s.database.url).toBe(`postgres://postgres:***@127.0.0.1:${env.REALTIME_EMBEDDED_PG_PORT}/realtime`);
    expect(s.config.database).toContain(`port ${env.REALTIME_EMBEDDED_PG_PORT}`);
    expect(s.servers.filter((x: { name: string | null }) => x.name !== null)).toEqual([
      expect.objectContaining({
        name: `port-${env.REALTIME_PORT}`,
        running: true,
        pid: p.child.pid,
        url: `http://127.0.0.1:${env.REALTIME_PORT}`,
        embeddedPort: Number(env.REALTIME_EMBEDDED_PG_PORT),
        health: expect.objectContaining({ status: 200 }),
      }),
    ]);
    // A second relay on the same embedded database is refused in one line saying what to do.
    const second = await runCli(["server", "start"], { ...env, REALTIME_PORT: String(await freePort()) }, { cwd: base, timeoutMs: 60_000 });
    expect(second.code).toBe(1);
    expect(second.stderr.trim().split("\n")).toHaveLength(1);
    expect(second.stderr).toMatch(
      new RegExp(`^Error: embedded PostgreSQL in .* is in use by process ${p.child.pid} .* on port ${env.REALTIME_EMBEDDED_PG_PORT}: stop it first .*REALTIME_DATA_DIR or a DATABASE_URL\n$`),
    );

    // Commands reach the embedded database it runs.
    const rooms = await runCli(["rooms", "--json"], { PATH: process.env.PATH, HOME: process.env.HOME }, { cwd: base });
    expect(rooms.code, rooms.stderr).toBe(0);
    expect(json<Array<{ name: string }>>(rooms).map((r) => r.name)).toContain("general");

    ctrlC(p);
    expect(await p.exited).toEqual({ code: 0, signal: null });
    await expectNothingRunning(p, "after a full start");
  });

  it("the moment the postmaster is spawned, and at steps from 0.3 s to 1.5 s: nothing is left each time", async () => {
    // Right after the postmaster is spawned (its state file appears), before it is ready.
    const state = path.join(dataDir, "embedded-pg.json");
    const p = npmStart();
    await until(() => fs.existsSync(state), 60_000, { what: "the postmaster to be spawned" });
    ctrlC(p);
    await expectNothingRunning(p, "postmaster starting");

    const phases: string[] = [];
    for (const delayMs of [300, 500, 700, 900, 1100, 1500]) {
      const q = npmStart();
      await sleep(delayMs);
      const phase = /Realtime server .* listening/.test(q.stdout())
        ? "serving"
        : fs.existsSync(state)
          ? "postmaster spawned"
          : "before the postmaster";
      ctrlC(q);
      await expectNothingRunning(q, `Ctrl-C ${delayMs} ms in (${phase})`);
      phases.push(`${delayMs} ms: ${phase}`);
    }
    console.log(`Ctrl-C moments: ${phases.join(", ")}`);
  });

  it("a second Ctrl-C during shutdown exits at once and still stops the postmaster", async () => {
    const p = npmStart();
    await p.waitFor(/Realtime server port-\d+ listening/, 120_000);
    const postmaster = JSON.parse(fs.readFileSync(path.join(dataDir, "embedded-pg.json"), "utf8")).postmasterPid as number;
    ctrlC(p);
    ctrlC(p);
    await expectNothingRunning(p, "double Ctrl-C");
    expect(alive(postmaster)).toBe(false);
  });
});
