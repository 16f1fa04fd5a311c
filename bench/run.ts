// `npm run bench [-- scenario ...]`: runs the benchmark scenarios, prints a table for each, writes
// bench/results/<scenario>.json and bench/results/latest.md. BENCH_QUICK=1: a short smoke run.
//
// Process layout: this process re-executes itself pinned to CPU 1 (taskset -c 1) with a raised
// open-files limit and becomes the load generator; each server under test (the relay, the bare
// Socket.io baseline) runs in its own process pinned to CPU 0. PostgreSQL is not pinned.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BENCH_DB, LOAD_CPU, QUICK, RESULTS_DIR, ROOT_DIR, SERVER_CPU, fdLimit, type Scenario, type ScenarioResult } from "./lib/context.js";
import { dropDatabase, withClient } from "./lib/db.js";
import { relayEnv } from "./lib/server.js";

const FD_WANTED = 65_536;

if (!process.env.BENCH_CHILD) {
  // Raise the open-files limit (20k client sockets plus the servers' own), then pin and re-run.
  const args = process.argv.slice(2).map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const script = path.join(ROOT_DIR, "bench", "run.ts");
  const cmd =
    `ulimit -Hn ${FD_WANTED} 2>/dev/null; ulimit -Sn ${FD_WANTED} 2>/dev/null || ulimit -Sn $(ulimit -Hn); ` +
    `exec taskset -c ${LOAD_CPU} "${process.execPath}" --expose-gc --max-old-space-size=6144 --import tsx "${script}" ${args}`;
  const child = spawn("sh", ["-c", cmd], { stdio: "inherit", cwd: ROOT_DIR, env: { ...process.env, BENCH_CHILD: "1" } });
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  await main();
}

function sh(cmd: string): string {
  const r = spawnSync("sh", ["-c", cmd], { encoding: "utf8" });
  return (r.stdout ?? "").trim();
}

async function machine(): Promise<Record<string, string>> {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
  const pgVersion = await withClient((c) => c.query("select version() as v"), `postgres://postgres@127.0.0.1:5432/postgres`)
    .then((r) => String(r.rows[0].v).split(" on ")[0])
    .catch(() => "unknown");
  return {
    cpu,
    nproc: String(os.cpus().length),
    memory: sh("free -g | awk '/^Mem:/ {print $2 \" GB total, \" $7 \" GB available\"}'"),
    node: process.version,
    postgres: pgVersion,
    kernel: os.release(),
    loadavg: os.loadavg().map((l) => l.toFixed(2)).join(" "),
  };
}

function header(m: Record<string, string>, limit: number): string {
  const env = relayEnv(0);
  return [
    `Machine: ${m.cpu}, nproc ${m.nproc}, ${m.memory}; Node ${m.node}; ${m.postgres}; load average at start ${m.loadavg}.`,
    `Processes: servers under test (relay, bare Socket.io) each in their own process pinned to CPU ${SERVER_CPU} (taskset -c ${SERVER_CPU});` +
      ` the load generator (socket.io-client over websocket, pg clients) pinned to CPU ${LOAD_CPU} (taskset -c ${LOAD_CPU}); PostgreSQL unpinned.` +
      ` Open-files limit of the load generator: ${limit}.`,
    `Relay environment: LOG_LEVEL=${env.LOG_LEVEL}, REALTIME_LOG_EVENTS=${env.REALTIME_LOG_EVENTS} (event log off for fairness with the bare server),` +
      ` REALTIME_RATE_LIMIT=${env.REALTIME_RATE_LIMIT}, REALTIME_RATE_BURST=${env.REALTIME_RATE_BURST}, REALTIME_MAX_CONNECTIONS above the load;` +
      ` dedicated database \`${BENCH_DB}\` created fresh and migrated for every scenario.`,
    QUICK ? "Mode: BENCH_QUICK=1 (short smoke run: fewer connections, shorter phases)." : "Mode: full run.",
  ].join("\n");
}

async function main(): Promise<void> {
  const { scenarios } = await import("./scenarios/index.js");
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const unknown = wanted.filter((w) => !scenarios.some((s: Scenario) => s.name === w));
  if (unknown.length > 0) {
    console.error(`unknown scenario ${unknown.join(", ")}; choose from ${scenarios.map((s: Scenario) => s.name).join(", ")}`);
    process.exit(2);
  }
  const selected = wanted.length > 0 ? scenarios.filter((s: Scenario) => wanted.includes(s.name)) : scenarios;
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const limit = await fdLimit();
  const m = await machine();
  const head = header(m, limit);
  console.log(head + "\n");
  const started = Date.now();
  let failed = 0;
  for (const scenario of selected) {
    const t0 = Date.now();
    console.log(`## ${scenario.name}: ${scenario.title}`);
    try {
      const out = await scenario.run();
      const result: ScenarioResult = {
        scenario: scenario.name,
        title: scenario.title,
        quick: QUICK,
        startedAt: new Date(t0).toISOString(),
        durationSec: Math.round((Date.now() - t0) / 100) / 10,
        markdown: out.markdown,
        data: { machine: m, fdLimit: limit, ...(out.data as object) },
      };
      fs.writeFileSync(path.join(RESULTS_DIR, `${scenario.name}.json`), JSON.stringify(result, null, 2) + "\n");
      console.log(out.markdown);
      console.log(`(${result.durationSec} s)\n`);
    } catch (err) {
      failed++;
      console.error(`scenario ${scenario.name} failed: ${(err as Error).stack ?? err}\n`);
    }
  }
  await dropDatabase().catch(() => {});
  writeLatest(head, scenarios.map((s: Scenario) => s.name));
  console.log(`total ${Math.round((Date.now() - started) / 1000)} s; tables in ${path.relative(ROOT_DIR, path.join(RESULTS_DIR, "latest.md"))}`);
  process.exit(failed > 0 ? 1 : 0);
}

/** latest.md: the header of this run and the newest result of every scenario. */
function writeLatest(head: string, order: string[]): void {
  const parts = [`# Benchmark results\n\n${head}\n`];
  for (const name of order) {
    const file = path.join(RESULTS_DIR, `${name}.json`);
    if (!fs.existsSync(file)) continue;
    const r = JSON.parse(fs.readFileSync(file, "utf8")) as ScenarioResult;
    parts.push(`## ${r.scenario}: ${r.title}\n\n_run ${r.startedAt}${r.quick ? ", BENCH_QUICK" : ""}, ${r.durationSec} s_\n\n${r.markdown}\n`);
  }
  fs.writeFileSync(path.join(RESULTS_DIR, "latest.md"), parts.join("\n"));
}
