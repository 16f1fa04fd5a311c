// Scenario 4: throughput of the hot SQL functions with pgbench custom scripts (-M prepared -c 8),
// next to pgbench's built-in simple-update in the same database, in the same run.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { BENCH_DB, BENCH_DIR, PG_HOST, PG_PORT, PG_USER, QUICK, type Scenario } from "../lib/context.js";
import { freshDatabase, seedMemberships, withClient } from "../lib/db.js";
import { fmt, ratio, round, status, table, targetTable, type TargetRow } from "../lib/stats.js";

const SECONDS = QUICK ? 3 : 10;
const CLIENTS = 8;
const USERS = 10_000;

interface Run {
  name: string;
  script: string;
  /** Function calls (one transaction each) per script execution. */
  callsPerTx: number;
  /** Rows a call works on. */
  rowsPerCall: number;
  tps: number;
  latencyMs: number;
  transactions: number;
  failed: number;
  callsPerSec: number;
  rowsPerSec: number;
  error?: string;
}

/** The session setting the relay uses (REALTIME_DB_SYNCHRONOUS_COMMIT=false, see lib/db.ts). */
const AS_THE_RELAY = "-c synchronous_commit=off";

function pgbench(args: string[], pgOptions?: string): { out: string; err: string; code: number } {
  // PostgreSQL and pgbench share both CPUs here (no pinning): pgbench is a client of the server.
  const r = spawnSync("taskset", ["-c", "0,1", "pgbench", "-h", PG_HOST, "-p", String(PG_PORT), "-U", PG_USER, ...args, BENCH_DB], {
    encoding: "utf8",
    timeout: (SECONDS + 60) * 1000,
    env: pgOptions ? { ...process.env, PGOPTIONS: pgOptions } : process.env,
  });
  return { out: r.stdout ?? "", err: r.stderr ?? "", code: r.status ?? -1 };
}

async function run(name: string, script: string, callsPerTx: number, rowsPerCall: number, pgOptions: string | undefined = AS_THE_RELAY): Promise<Run> {
  await withClient((c) => c.query("checkpoint"));
  const args = ["-M", "prepared", "-c", String(CLIENTS), "-j", "2", "-T", String(SECONDS)];
  const r = script.startsWith("builtin:")
    ? pgbench([...args, "-b", script.slice(8)], pgOptions)
    : pgbench([...args, "-n", "-f", path.join(BENCH_DIR, "pgbench", script)], pgOptions);
  const num = (re: RegExp) => Number(re.exec(r.out)?.[1] ?? NaN);
  const tps = num(/tps = ([\d.]+) \(without initial connection time\)/);
  const out: Run = {
    name,
    script,
    callsPerTx,
    rowsPerCall,
    tps: round(tps, 0),
    latencyMs: num(/latency average = ([\d.]+) ms/),
    transactions: num(/number of transactions actually processed: (\d+)/),
    failed: num(/number of failed transactions: (\d+)/) || 0,
    callsPerSec: round(tps * callsPerTx, 0),
    rowsPerSec: round(tps * callsPerTx * rowsPerCall, 0),
  };
  if (r.code !== 0 || !Number.isFinite(tps)) out.error = (r.err || r.out).split("\n").filter(Boolean).slice(-3).join(" / ");
  console.log(`  ${name}: ${fmt(out.tps)} tps${out.error ? ` (error: ${out.error})` : ""}`);
  return out;
}

export const sql: Scenario = {
  name: "sql",
  title: "SQL core throughput (pgbench, -M prepared -c 8)",
  async run() {
    await freshDatabase();
    const pairs: [string, string][] = [];
    for (let u = 0; u < USERS; u++) pairs.push([`u${u}`, `a${Math.floor(u / 100)}`], [`u${u}`, `b${u % 100}`]);
    await seedMemberships(pairs);
    await withClient(async (c) => {
      // Every user online with one open connection bs<i> (touch scripts), typing in its a-room
      // with a long timeout (refresh script).
      await c.query(
        `insert into realtime_connections (socket_id, user_id, node_id) select 'bs' || g, 'u' || g, 'pgbench' from generate_series(0, $1 - 1) g`,
        [USERS],
      );
      await c.query(
        `insert into realtime_presence (user_id, status, chosen_status) select 'u' || g, 'online', 'online' from generate_series(0, $1 - 1) g`,
        [USERS],
      );
      await c.query(
        `insert into realtime_typing (room_name, user_id, expires_at) select 'a' || (g / 100), 'u' || g, now() + interval '1 hour' from generate_series(0, $1 - 1) g`,
        [USERS],
      );
      await c.query("vacuum analyze");
    });
    const init = pgbench(["-i", "-s", "1", "-q"]);
    if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.err}`);
    console.log(`pgbench runs of ${SECONDS} s, ${CLIENTS} clients, 2 threads:`);
    const runs: Run[] = [];
    // The bar is simple-update at the default synchronous_commit; the realtime scripts run with the
    // relay's session setting. simple-update with that setting is shown too, for comparison.
    runs.push(await run("built-in simple-update", "builtin:simple-update", 1, 1, undefined));
    runs.push(await run("register + close connection", "register_close.sql", 2, 1));
    runs.push(await run("typing start + stop (set changes, NOTIFY)", "typing_change.sql", 2, 1));
    runs.push(await run("typing refresh (silent)", "typing_refresh.sql", 1, 1));
    runs.push(await run("presence update", "presence.sql", 1, 1));
    runs.push(await run("touch 1 connection", "touch_1.sql", 1, 1));
    runs.push(await run("touch batch of 100 connections", "touch_100.sql", 1, 100));
    runs.push(await run("built-in simple-update, synchronous_commit=off", "builtin:simple-update", 1, 1));

    const base = runs[0].tps;
    const single = runs.slice(1, 5);
    const touch1 = runs[5];
    const touch100 = runs[6];
    const rows: TargetRow[] = single.map((r) => ({
      metric: `${r.name}: calls/s vs simple-update tps`,
      target: "≥ 1x",
      measured: `${fmt(r.callsPerSec)} / ${fmt(base)} = ${fmt(ratio(r.callsPerSec, base), 2)}x`,
      status: status(ratio(r.callsPerSec, base) >= 1 && !r.error),
    }));
    rows.push({
      metric: "batched touch (100) vs single-row touch, rows/s",
      target: "≥ 10x",
      measured: `${fmt(touch100.rowsPerSec)} / ${fmt(touch1.rowsPerSec)} = ${fmt(ratio(touch100.rowsPerSec, touch1.rowsPerSec), 1)}x`,
      status: status(ratio(touch100.rowsPerSec, touch1.rowsPerSec) >= 10),
    });
    const detail = table(
      ["workload", "script tps", "calls/s", "rows/s", "latency avg", "failed", "vs simple-update"],
      runs.map((r) => [
        r.name,
        fmt(r.tps),
        fmt(r.callsPerSec),
        fmt(r.rowsPerSec),
        `${fmt(r.latencyMs, 2)} ms`,
        r.error ? `error: ${r.error}` : r.failed,
        `${fmt(ratio(r.callsPerSec, base), 2)}x`,
      ]),
    );
    const markdown = [
      targetTable(rows),
      "",
      detail,
      "",
      `pgbench -M prepared -c ${CLIENTS} -j 2 -T ${SECONDS} against \`${BENCH_DB}\` (pgbench -i -s 1 in the same database for the built-in simple-update),` +
        ` a CHECKPOINT before each run, pgbench and PostgreSQL on both CPUs. The realtime scripts run with` +
        ` PGOPTIONS='${AS_THE_RELAY}', the relay's session setting; simple-update runs with the default (the bar) and with it. ${fmt(USERS)} users, each in 2 rooms of 100, online with one open connection;` +
        ` each call is its own transaction (calls/s = transactions/s). Scripts: bench/pgbench/*.sql.`,
    ].join("\n");
    return { markdown, data: { seconds: SECONDS, clients: CLIENTS, users: USERS, runs, rows } };
  },
};
