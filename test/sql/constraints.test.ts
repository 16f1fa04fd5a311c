// CHECK constraints and unique indexes (the table DDL at the top of migrations/committed/000001):
// the closed sets and shapes hold even for direct INSERTs that bypass the functions.
import { describe, expect, it } from "vitest";
import { uid } from "../helpers/names.js";
import { expectSqlError, useDatabase } from "./support.js";

const ctx = useDatabase();

const insertPresence = (user: string, status: string, custom: unknown = null) =>
  ctx.db.q("insert into realtime_presence (user_id, status, custom_status) values ($1, $2, $3)", [user, status, custom === null ? null : JSON.stringify(custom)]);
const insertRoom = (name: string, type = "channel", visibility = "public") =>
  ctx.db.q("insert into realtime_rooms (name, type, visibility) values ($1, $2, $3)", [name, type, visibility]);

describe("presence", () => {
  it("refuses an unknown status or chosen status", async () => {
    await expectSqlError(insertPresence(uid("u"), "sleeping"), "23514", /realtime_presence_status_check/);
    await expectSqlError(
      ctx.db.q("insert into realtime_presence (user_id, chosen_status) values ($1, 'dnd')", [uid("u")]),
      "23514",
      /realtime_presence_chosen_status_check/,
    );
    await expectSqlError(insertPresence("", "online"), "23514");
  });

  it("refuses bad custom status shapes", async () => {
    for (const bad of [
      "text",
      ["a"],
      { text: "x", colour: "red" },
      { text: 1 },
      { emoji: true },
      { text: "x".repeat(129) },
      { emoji: "x".repeat(33) },
      { expiresAt: "soon" },
      { expiresAt: "2030-01-01 10:00" }, // no zone, not ISO 8601 with T
      { expiresAt: "2030-02-30T00:00:00Z" }, // the right shape, not a date
      { expiresAt: null },
    ]) {
      const err = await insertPresence(uid("u"), "online", bad).then(
        () => null,
        (e) => e,
      );
      expect(err, JSON.stringify(bad)).not.toBeNull();
      expect(["23514", "22008"], `${JSON.stringify(bad)}: ${err.message}`).toContain(err.code);
    }
  });

  it("accepts good custom statuses", async () => {
    for (const good of [{ text: "x", emoji: ":)" }, { expiresAt: "2030-01-01T00:00:00Z" }, { expiresAt: "2030-01-01T00:00:00.123+02:00" }]) {
      await insertPresence(uid("u"), "online", good);
    }
    // and realtime_tick can read them all
    expect(await ctx.db.v("select realtime_tick() as v")).toMatchObject({ typingExpired: expect.any(Number) });
  });
});

describe("rooms", () => {
  it("refuses an unknown type or visibility", async () => {
    await expectSqlError(insertRoom(uid("r"), "forum"), "23514", /realtime_rooms_type_check/);
    await expectSqlError(insertRoom(uid("r"), "channel", "secret"), "23514", /realtime_rooms_visibility_check/);
  });

  it("refuses over-long, empty, padded or control-character names, directly and through the functions", async () => {
    await expectSqlError(insertRoom("r".repeat(256)), "22001", /too long/);
    await expectSqlError(insertRoom(""), "23514", /realtime_rooms_name_format/);
    await expectSqlError(insertRoom(" padded"), "23514", /realtime_rooms_name_format/);
    await expectSqlError(insertRoom("bell\u0007"), "23514", /realtime_rooms_name_format/);
    await expectSqlError(ctx.db.q("select realtime_create_room($1)", ["r".repeat(256)]), "RT400", /1 to 255 characters/);
    await expectSqlError(ctx.db.q("select realtime_join_room($1, 'u', false, true)", ["r".repeat(256)]), "RT400");
    await insertRoom("r".repeat(255));
  });

  it("keeps dm rooms to one private room per ordered pair", async () => {
    const dm = "insert into realtime_rooms (name, type, visibility, dm_user_a, dm_user_b) values ($1, 'dm', $2, $3, $4)";
    await expectSqlError(ctx.db.q(dm, [uid("d"), "public", "a", "b"]), "23514", /realtime_rooms_dm_pair/);
    await expectSqlError(ctx.db.q(dm, [uid("d"), "private", "b", "a"]), "23514", /realtime_rooms_dm_pair/);
    await expectSqlError(ctx.db.q(dm, [uid("d"), "private", "a", null]), "23514", /realtime_rooms_dm_pair/);
    await expectSqlError(
      ctx.db.q("insert into realtime_rooms (name, type, dm_user_a, dm_user_b) values ($1, 'channel', 'a', 'b')", [uid("c")]),
      "23514",
    );
    await ctx.db.q(dm, [uid("d"), "private", "a", "b"]);
    await expectSqlError(ctx.db.q(dm, [uid("d"), "private", "a", "b"]), "23505", /realtime_rooms_dm_unique/);
  });

  it("refuses non-object metadata", async () => {
    await expectSqlError(ctx.db.q("insert into realtime_rooms (name, metadata) values ($1, '[]')", [uid("r")]), "23514", /metadata_object/);
  });
});

describe("memberships", () => {
  it("allows at most one active membership per user and room, and any number of past ones", async () => {
    const room = uid("room");
    await insertRoom(room);
    const id = await ctx.db.v("select id as v from realtime_rooms where name = $1", [room]);
    const add = "insert into realtime_room_members (room_id, user_id, left_at) values ($1, 'u', $2)";

    await ctx.db.q(add, [id, new Date()]);
    await ctx.db.q(add, [id, new Date()]);
    await ctx.db.q(add, [id, null]);
    await expectSqlError(ctx.db.q(add, [id, null]), "23505", /realtime_room_members_active/);
    await expectSqlError(
      ctx.db.q("insert into realtime_room_members (room_id, user_id, role) values ($1, 'v', 'king')", [id]),
      "23514",
      /role_check/,
    );
  });
});

describe("typing, events, connections and nodes", () => {
  it("refuse empty thread ids, bad event types, empty socket ids and node ids", async () => {
    await expectSqlError(
      ctx.db.q("insert into realtime_typing (room_name, user_id, thread_id, expires_at) values ('r', 'u', '', now())"),
      "23514",
      /realtime_typing_thread_nonempty/,
    );
    await expectSqlError(
      ctx.db.q("insert into realtime_typing (room_name, user_id, expires_at) values ('r', 'u', now()), ('r', 'u', now())"),
      "23505",
      /realtime_typing_key/,
    );
    await expectSqlError(ctx.db.q("insert into realtime_events (type) values ('Message')"), "23514", /realtime_events_type_check/);
    await expectSqlError(ctx.db.q("insert into realtime_connections (socket_id) values ('')"), "23514");
    await expectSqlError(ctx.db.q("insert into realtime_nodes (id) values ('')"), "23514");
  });
});
