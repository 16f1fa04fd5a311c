// realtime_cluster_stats (functions/views.sql): the cluster's figures in one answer, for
// `realtime stats` and the relay's /metrics.
import { describe, expect, it } from "vitest";
import { uid } from "../helpers/names.js";
import { useDatabase } from "./support.js";

const ctx = useDatabase();

describe("realtime_cluster_stats", () => {
  it("counts nodes alive by their own stale-after, connections, users online, rooms, members, typing and events", async () => {
    const before = await ctx.db.v("select realtime_cluster_stats() as v");
    const [live, silent, alice, bob, room] = [uid("n"), uid("n"), uid("alice"), uid("bob"), uid("room")];
    await ctx.db.q("select realtime_node_start($1, 'h', 1, '{\"staleAfterMs\": 60000}')", [live]);
    await ctx.db.q("select realtime_node_start($1, 'h', 2, '{\"staleAfterMs\": 1000}', $2)", [silent, new Date(Date.now() - 5000).toISOString()]);
    await ctx.db.q("select realtime_register_connection($1, $2, $3)", [uid("s"), alice, live]);
    await ctx.db.q("select realtime_register_connection($1, $2, $3)", [uid("s"), bob, live]);
    await ctx.db.q("select realtime_register_connection($1, $2, $3, p_anonymous => true)", [uid("s"), uid("anon"), live]);
    await ctx.db.q("select realtime_create_room($1, 'group')", [room]);
    await ctx.db.q("select realtime_add_member($1, $2)", [room, alice]);
    await ctx.db.q("select realtime_add_member($1, $2)", [room, bob]);
    await ctx.db.q("select realtime_send_message($1, $2, 'hello')", [room, alice]);
    await ctx.db.q("select realtime_start_typing($1, $2)", [room, bob]);

    const s = await ctx.db.v("select realtime_cluster_stats() as v");

    expect(s.nodesAlive - before.nodesAlive).toBe(1);
    expect(s.usersOnline - before.usersOnline).toBe(2);
    expect(s.connections.users - before.connections.users).toBe(2);
    expect(s.connections.authenticated - before.connections.authenticated).toBe(2);
    expect(s.connections.anonymous - before.connections.anonymous).toBe(1);
    expect(s.connections.total - before.connections.total).toBe(3);
    expect(s.rooms.total - before.rooms.total).toBe(1);
    expect((s.rooms.byType.group ?? 0) - (before.rooms.byType.group ?? 0)).toBe(1);
    expect(s.members - before.members).toBe(2);
    expect(s.typing - before.typing).toBe(1);
    expect(s.events.sinceMs).toBe(3_600_000);
    expect((s.events.byType.message ?? 0) - (before.events.byType.message ?? 0)).toBe(1);
    expect(Object.keys(s.presence).sort()).toEqual(["away", "busy", "offline", "online"]);
    const nodes = Object.fromEntries(s.nodes.map((n: any) => [n.nodeId, n]));
    expect(nodes[live]).toMatchObject({ alive: true, state: "alive", staleAfterMs: 60000, connectionCount: expect.any(Number) });
    expect(nodes[live].connectionCount).toBeGreaterThanOrEqual(2);
    expect(nodes[silent]).toMatchObject({ alive: false, state: "silent", staleAfterMs: 1000, connectionCount: 0 });
  });

  it("takes the event window as an interval", async () => {
    const s = await ctx.db.v("select realtime_cluster_stats('7 days') as v");
    expect(s.events.sinceMs).toBe(7 * 86_400_000);
  });
});
