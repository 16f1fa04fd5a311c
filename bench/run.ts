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
import { BENCH_DB, LOAD_CPU, QUICK, RESULTS_DIR, ROOT_DIR, RUNS, SERVER_CPU, fdLimit, type Headline, type Scenario, type ScenarioResult } from "./lib/context.js";
import { dropDatabase, withClient } from "./lib/db.js";
import { relaySettings } from "./lib/server.js";
import { aggregateHeadlines, headlineTable } from "./lib/stats.js";

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

/** The code measured: commit, and whether the working tree differed from it. */
function gitState(): { commit: string; dirty: boolean; dirtyFiles: string[] } {
  const commit = sh(`git -C "${ROOT_DIR}" rev-parse --short HEAD`) || "unknown";
  // Result files written by this very run do not make the code dirty.
  const dirtyFiles = sh(`git -C "${ROOT_DIR}" diff --name-only HEAD`)
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("bench/results/"));
  return { commit, dirty: dirtyFiles.length > 0, dirtyFiles };
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
    ramBytes: String(os.totalmem()),
    node: process.version,
    postgres: pgVersion,
    kernel: os.release(),
    loadavg: os.loadavg().map((l) => l.toFixed(2)).join(" "),
  };
}

function header(m: Record<string, string>, limit: number, git: ReturnType<typeof gitState>): string {
  const settings = relaySettings();
  return [
    `Code: commit ${git.commit}${git.dirty ? ` + uncommitted changes (${git.dirtyFiles.slice(0, 8).join(", ")}${git.dirtyFiles.length > 8 ? ", …" : ""})` : " (clean)"}.`,
    `Machine: ${m.cpu}, nproc ${m.nproc}, ${m.memory}; Node ${m.node}; ${m.postgres}; load average at start ${m.loadavg}.`,
    `Processes: servers under test (relay, bare Socket.io) each in their own process pinned to CPU ${SERVER_CPU} (taskset -c ${SERVER_CPU});` +
      ` the load generator (bench/lib/wire.ts: socket.io frames over ws; pg clients) pinned to CPU ${LOAD_CPU} (taskset -c ${LOAD_CPU}); PostgreSQL unpinned.` +
      ` Open-files limit of the load generator: ${limit}.`,
    `Relay settings that differ from its defaults: ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(", ")}` +
      ` (REALTIME_MAX_CONNECTIONS: above each scenario's load); dedicated database \`${BENCH_DB}\` created fresh and migrated for every scenario run.`,
    `Runs: ${RUNS} per scenario; headline figures are the median (min–max) of the runs, met/missed decided on the medians.`,
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
  const selected = wanted.length > 0 ? scenarios.filter((s: Scenario) => wanted.includes(s.name)) : scenarios.filter((s: Scenario) => !s.optional);
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const limit = await fdLimit();
  const m = await machine();
  const git = gitState();
  const head = header(m, limit, git);
  console.log(head + "\n");
  const started = Date.now();
  let failed = 0;
  for (const scenario of selected) {
    const t0 = Date.now();
    console.log(`## ${scenario.name}: ${scenario.title}`);
    try {
      const runs: { markdown: string; data: unknown; headlines: Headline[] }[] = [];
      for (let i = 0; i < RUNS; i++) {
        if (RUNS > 1) console.log(`run ${i + 1} of ${RUNS}`);
        const out = await scenario.run();
        runs.push({ markdown: out.markdown, data: out.data, headlines: out.headlines ?? [] });
        if (typeof global.gc === "function") global.gc();
      }
      const aggregated = aggregateHeadlines(runs.map((r) => r.headlines));
      const last = runs[runs.length - 1];
      const markdown = [
        aggregated.length > 0 ? headlineTable(aggregated) + "\n" : "",
        RUNS > 1 ? `Detail of run ${RUNS} of ${RUNS}:\n` : "",
        last.markdown,
      ]
        .filter(Boolean)
        .join("\n");
      const result: ScenarioResult = {
        scenario: scenario.name,
        title: scenario.title,
        quick: QUICK,
        startedAt: new Date(t0).toISOString(),
        durationSec: Math.round((Date.now() - t0) / 100) / 10,
        markdown,
        data: {
          git,
          machine: m,
          fdLimit: limit,
          relaySettings: relaySettings(),
          runs: RUNS,
          headlines: aggregated,
          perRun: runs.map((r) => ({ headlines: r.headlines.map(({ check: _c, ...h }) => h), data: r.data })),
        },
      };
      fs.writeFileSync(path.join(RESULTS_DIR, `${scenario.name}.json`), JSON.stringify(result, null, 2) + "\n");
      console.log(markdown);
      console.log(`(${result.durationSec} s)\n`);
      writeLatest(head, scenarios.map((s: Scenario) => s.name));
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

/**
 * latest.md: the newest result of every scenario, each with the commit, machine and settings it ran
 * with (a scenario run alone rewrites its own section only).
 */
function writeLatest(head: string, order: string[]): void {
  const parts = [`# Benchmark results\n\nNewest run:\n${head}\n`];
  for (const name of order) {
    const file = path.join(RESULTS_DIR, `${name}.json`);
    if (!fs.existsSync(file)) continue;
    const r = JSON.parse(fs.readFileSync(file, "utf8")) as ScenarioResult & { data: { git?: { commit: string; dirty: boolean }; machine?: Record<string, string>; runs?: number } };
    const g = r.data.git;
    const mm = r.data.machine;
    const where = [
      g ? `commit ${g.commit}${g.dirty ? " (dirty)" : ""}` : undefined,
      mm ? `${mm.cpu}, ${mm.nproc} cores, ${mm.memory}, Node ${mm.node}, ${mm.postgres}` : undefined,
      `${r.data.runs ?? 1} run(s)`,
    ]
      .filter(Boolean)
      .join("; ");
    parts.push(`## ${r.scenario}: ${r.title}\n\n_run ${r.startedAt}${r.quick ? ", BENCH_QUICK" : ""}, ${r.durationSec} s; ${where}_\n\n${r.markdown}\n`);
  }
  fs.writeFileSync(path.join(RESULTS_DIR, "latest.md"), parts.join("\n"));
}
