// Scenario 4: throughput of the hot SQL functions with pgbench custom scripts (-M prepared -c 8),
// next to pgbench's built-in simple-update in the same database, in the same run, at the same
// synchronous_commit.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { BENCH_DB, BENCH_DIR, PG_HOST, PG_PORT, PG_USER, QUICK, type Headline, type Scenario } from "../lib/context.js";
import { freshDatabase, seedMemberships, withClient } from "../lib/db.js";
import { fmt, ratio, round, table } from "../lib/stats.js";

const SECONDS = QUICK ? 3 : 6;
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
    // The bar is simple-update with the synchronous_commit the relay's sessions use (off); message
    // batches commit with on, so the message script is compared with simple-update at on.
    const baseOff = await run("built-in simple-update, synchronous_commit=off", "builtin:simple-update", 1, 1);
    const baseOn = await run("built-in simple-update, synchronous_commit=on", "builtin:simple-update", 1, 1, "-c synchronous_commit=on");
    runs.push(baseOff, baseOn);
    const single: Run[] = [];
    single.push(await run("register + close connection", "register_close.sql", 2, 1));
    single.push(await run("typing start + stop (set changes, NOTIFY)", "typing_change.sql", 2, 1));
    single.push(await run("typing refresh (silent)", "typing_refresh.sql", 1, 1));
    single.push(await run("presence update", "presence.sql", 1, 1));
    const touch1 = await run("touch 1 connection", "touch_1.sql", 1, 1);
    const touch100 = await run("touch batch of 100 connections", "touch_100.sql", 1, 100);
    // Session off, the transaction on (set_config in the statement), as the relay sends a batch.
    const send = await run("send message (one, committed with synchronous_commit=on)", "send_message.sql", 1, 1);
    runs.push(...single, touch1, touch100, send);

    const base = baseOff.tps;
    const okRun = (r: Run) => !r.error && Number.isFinite(r.tps);
    const headlines: Headline[] = single.map((r) => ({
      metric: `${r.name}: calls/s, relay functions / simple-update (synchronous_commit=off)`,
      target: "≥ 1x",
      unit: "/s",
      relay: r.callsPerSec,
      bare: base,
      check: (v: number, b: number | undefined) => b !== undefined && v >= b && okRun(r),
    }));
    headlines.push(
      {
        metric: "send message: calls/s / simple-update (synchronous_commit=on)",
        target: "≥ 1x",
        unit: "/s",
        relay: send.callsPerSec,
        bare: baseOn.tps,
        check: (v, b) => b !== undefined && v >= b && okRun(send),
      },
      {
        metric: "batched touch (100) vs single-row touch, rows/s",
        target: "≥ 10x",
        unit: "/s",
        relay: touch100.rowsPerSec,
        bare: touch1.rowsPerSec,
        check: (v, b) => b !== undefined && v >= 10 * b,
        note: "bare column: single-row touch",
      },
    );
    const detail = table(
      ["workload", "script tps", "calls/s", "rows/s", "latency avg", "failed", "vs simple-update at the same synchronous_commit"],
      runs.map((r) => [
        r.name,
        fmt(r.tps),
        fmt(r.callsPerSec),
        fmt(r.rowsPerSec),
        `${fmt(r.latencyMs, 2)} ms`,
        r.error ? `error: ${r.error}` : r.failed,
        `${fmt(ratio(r.callsPerSec, r === send || r === baseOn ? baseOn.tps : base), 2)}x`,
      ]),
    );
    const markdown = [
      detail,
      "",
      `pgbench -M prepared -c ${CLIENTS} -j 2 -T ${SECONDS} against \`${BENCH_DB}\` (pgbench -i -s 1 in the same database for the built-in simple-update),` +
        ` a CHECKPOINT before each run, pgbench and PostgreSQL on both CPUs. The realtime scripts run with` +
        ` PGOPTIONS='${AS_THE_RELAY}', the relay's session setting; the bar is simple-update with the same setting, and for the message script (committed with synchronous_commit=on, as the relay commits message batches) simple-update at on. ${fmt(USERS)} users, each in 2 rooms of 100, online with one open connection;` +
        ` each call is its own transaction (calls/s = transactions/s). Scripts: bench/pgbench/*.sql.`,
    ].join("\n");
    return { markdown, data: { seconds: SECONDS, clients: CLIENTS, users: USERS, runs }, headlines };
  },
};
