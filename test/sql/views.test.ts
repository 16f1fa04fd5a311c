// The views (functions/views.sql) read by the CLI, dashboards, Hasura and PostgREST.
// Views that compare with now() get rows timed around the real clock.
import { describe, expect, it } from "vitest";
import { uid } from "../helpers/names.js";
import { useDatabase } from "./support.js";

const ctx = useDatabase();
const iso = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString();

describe("views", () => {
  it("realtime_active_connections lists open sockets with presence, newest first", async () => {
    const [u, s1, s2, s3] = [uid("u"), uid("s"), uid("s"), uid("s")];
    await ctx.db.q("select realtime_register_connection($1, $2, 'node-1', '{\"os\":\"ios\"}', p_now => $3)", [s1, u, iso(-3000)]);
    await ctx.db.q("select realtime_register_connection($1, $2, p_now => $3)", [s2, u, iso(-2000)]);
    await ctx.db.q("select realtime_register_connection($1, null, p_anonymous => true, p_now => $2)", [s3, iso(-1000)]);
    await ctx.db.q("select realtime_close_connection($1)", [s2]);

    const rows = await ctx.db.q("select * from realtime_active_connections where socket_id = any($1)", [[s1, s2, s3]]);

    expect(rows.map((r) => r.socket_id)).toEqual([s3, s1]);
    expect(rows[1]).toMatchObject({ user_id: u, device: { os: "ios" }, presence_status: "online", node_id: "node-1", anonymous: false });
    expect(rows[0]).toMatchObject({ user_id: null, presence_status: null, anonymous: true });
  });

  it("realtime_room_stats counts active members (not those who left) and online ones", async () => {
    const room = uid("room");
    const [on, off, gone] = [uid("on"), uid("off"), uid("gone")];
    await ctx.db.q("select realtime_create_room($1, 'group', 'private')", [room]);
    for (const u of [on, off, gone]) await ctx.db.q("select realtime_add_member($1, $2)", [room, u]);
    await ctx.db.q("select realtime_leave_room($1, $2)", [room, gone]);
    await ctx.db.q("select realtime_register_connection($1, $2)", [uid("s"), on]);
    await ctx.db.q("select realtime_register_connection($1, $2)", [uid("s"), gone]);
    const empty = uid("empty");
    await ctx.db.q("select realtime_create_room($1)", [empty]);

    const rows = await ctx.db.q("select * from realtime_room_stats where name = any($1)", [[room, empty]]);

    expect(rows.map((r) => ({ ...r, created_at: undefined }))).toEqual([
      { name: room, type: "group", visibility: "private", member_count: "2", online_count: "1", created_at: undefined },
      { name: empty, type: "channel", visibility: "public", member_count: "0", online_count: "0", created_at: undefined },
    ]);
  });

  it("realtime_current_typing hides expired indicators", async () => {
    const room = uid("room");
    const [live, expired] = [uid("live"), uid("expired")];
    await ctx.db.q("select realtime_create_room($1), realtime_add_member($1, $2), realtime_add_member($1, $3)", [room, live, expired]);
    await ctx.db.q("select realtime_start_typing($1, $2, 't1', null, interval '1 hour')", [room, live]);
    await ctx.db.q("select realtime_start_typing($1, $2, null, null, interval '3 seconds', $3)", [room, expired, iso(-60_000)]);

    const rows = await ctx.db.q("select * from realtime_current_typing where room_name = $1", [room]);

    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ room_name: room, user_id: live, thread_id: "t1" });
    expect(await ctx.db.v("select count(*)::int as v from realtime_typing where room_name = $1", [room])).toBe(2);
  });

  it("realtime_presence_summary counts users per status, offline ones only when seen in the last hour", async () => {
    const before = Object.fromEntries(
      (await ctx.db.q("select status, user_count from realtime_presence_summary")).map((r) => [r.status, Number(r.user_count)]),
    );
    const insert = "insert into realtime_presence (user_id, status, last_seen) values ($1, $2, $3)";
    await ctx.db.q(insert, [uid("p"), "away", iso(-3 * 3600_000)]);
    await ctx.db.q(insert, [uid("p"), "busy", iso(0)]);
    await ctx.db.q(insert, [uid("p"), "offline", iso(-60_000)]);
    await ctx.db.q(insert, [uid("p"), "offline", iso(-2 * 3600_000)]); // not counted

    const after = Object.fromEntries(
      (await ctx.db.q("select status, user_count from realtime_presence_summary")).map((r) => [r.status, Number(r.user_count)]),
    );

    expect((after.away ?? 0) - (before.away ?? 0)).toBe(1);
    expect((after.busy ?? 0) - (before.busy ?? 0)).toBe(1);
    expect((after.offline ?? 0) - (before.offline ?? 0)).toBe(1);
  });

  it("realtime_node_stats lists nodes with their open connection counts", async () => {
    const [n1, n2] = [uid("n"), uid("n")];
    await ctx.db.q("select realtime_node_start($1, 'host-1', 11)", [n1]);
    await ctx.db.q("select realtime_node_start($1, 'host-2', 22)", [n2]);
    const sockets = [uid("s"), uid("s"), uid("s")];
    for (const s of sockets) await ctx.db.q("select realtime_register_connection($1, $2, $3)", [s, uid("u"), n1]);
    await ctx.db.q("select realtime_close_connection($1)", [sockets[0]]);
    await ctx.db.q("select realtime_node_stop($1)", [n2]);

    const rows = await ctx.db.q("select node_id, hostname, pid, connection_count, stopped_at from realtime_node_stats where node_id = any($1)", [[n1, n2]]);

    expect(rows).toEqual([
      { node_id: n1, hostname: "host-1", pid: 11, connection_count: "2", stopped_at: null },
      { node_id: n2, hostname: "host-2", pid: 22, connection_count: "0", stopped_at: expect.any(Date) },
    ]);
  });

  it("realtime_node_stats judges each node alive by the stale-after it declared, not the reader's", async () => {
    const [quick, slow, plain, stopped] = [uid("n"), uid("n"), uid("n"), uid("n")];
    const ago = new Date(Date.now() - 10_000).toISOString();
    await ctx.db.q("select realtime_node_start($1, 'h', 1, '{\"heartbeatMs\": 1000, \"staleAfterMs\": 3000}', $2)", [quick, ago]);
    await ctx.db.q("select realtime_node_start($1, 'h', 2, '{\"heartbeatMs\": 10000, \"staleAfterMs\": 30000}', $2)", [slow, ago]);
    await ctx.db.q("select realtime_node_start($1, 'h', 3, '{}', $2)", [plain, ago]);
    await ctx.db.q("select realtime_node_start($1, 'h', 4)", [stopped]);
    await ctx.db.q("select realtime_node_stop($1)", [stopped]);

    const rows = await ctx.db.q("select node_id, stale_after_ms, alive, state from realtime_node_stats where node_id = any($1)", [
      [quick, slow, plain, stopped],
    ]);

    expect(rows).toEqual([
      { node_id: quick, stale_after_ms: "3000", alive: false, state: "silent" },
      { node_id: slow, stale_after_ms: "30000", alive: true, state: "alive" },
      { node_id: plain, stale_after_ms: "90000", alive: true, state: "alive" },
      { node_id: stopped, stale_after_ms: "90000", alive: false, state: "stopped" },
    ]);
    expect(await ctx.db.v("select realtime_node_alive(n, $2) as v from realtime_nodes n where id = $1", [slow, new Date(Date.now() + 25_000).toISOString()])).toBe(false);
  });
});
