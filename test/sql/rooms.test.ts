// Rooms (functions/rooms.sql): every row of the authorisation table (docs/protocol.md, Rooms), dm rooms,
// broadcast senders, unknown rooms and automatic creation, membership notifications.
import { describe, expect, it } from "vitest";
import { connectPg } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { sleep } from "../helpers/wait.js";
import { at, expectSqlError, useDatabase } from "./support.js";

const ctx = useDatabase();

async function create(type = "channel", visibility = "public", metadata: object = {}, createdBy: string | null = null) {
  const name = uid(type);
  await ctx.db.q("select realtime_create_room($1, $2, $3, $4, $5)", [name, type, visibility, metadata, createdBy]);
  return name;
}
async function join(room: string, user: string | null, opts: { anonymous?: boolean; autoCreate?: boolean } = {}) {
  return ctx.db.v("select realtime_join_room($1, $2, $3, $4) as v", [room, user, opts.anonymous ?? false, opts.autoCreate ?? false]);
}
async function isMember(room: string, user: string): Promise<boolean> {
  return ctx.db.v(
    `select exists (select 1 from realtime_room_members m join realtime_rooms r on r.id = m.room_id
     where r.name = $1 and m.user_id = $2 and m.left_at is null) as v`,
    [room, user],
  );
}
async function memberNotes(room: string) {
  await ctx.l.sync();
  return ctx.l.ofKind("member").filter((m) => m.room === room);
}
async function send(room: string, user: string, roles: string[] = []) {
  return ctx.db.v("select realtime_send_message($1, $2, 'hi', null, null, $3) as v", [room, user, roles]);
}

describe("public channel", () => {
  it("lets anyone join: the membership begins and user:joined is announced once", async () => {
    const room = await create();
    const u = uid("u");

    const first = await join(room, u);
    const second = await join(room, u);

    expect(first).toMatchObject({ joined: true, memberCount: 1, typing: [], room: { name: room, type: "channel", visibility: "public" } });
    expect(first.members).toEqual([expect.objectContaining({ userId: u, role: "member", status: "offline" })]);
    expect(second.joined).toBe(false);
    expect(await isMember(room, u)).toBe(true);
    expect(await memberNotes(room)).toEqual([{ v: 1, kind: "member", op: "joined", room, userId: u }]);
  });

  it("lets an anonymous user in without a membership", async () => {
    const room = await create();

    const r = await join(room, null, { anonymous: true });

    expect(r).toMatchObject({ joined: false, memberCount: 0 });
    expect(await ctx.db.v("select count(*)::int as v from realtime_room_members m join realtime_rooms r on r.id = m.room_id where r.name = $1", [room])).toBe(0);
    expect(await memberNotes(room)).toEqual([]);
  });

  it("lets members send; non-members get RT403", async () => {
    const room = await create();
    const u = uid("u");
    await join(room, u);

    expect(await send(room, u)).toMatchObject({ roomName: room, userId: u, content: "hi" });
    await expectSqlError(send(room, uid("stranger")), "RT403", /not a member/);
  });
});

describe("private channel and group", () => {
  for (const type of ["channel", "group"]) {
    it(`admits only members to a private ${type} (RT403 before realtime_add_member, OK after)`, async () => {
      const room = await create(type, "private");
      const u = uid("u");

      await expectSqlError(join(room, u), "RT403", /private/);
      expect(await isMember(room, u)).toBe(false);
      await expectSqlError(join(room, null, { anonymous: true }), "RT403", /anonymous/);

      expect(await ctx.db.v("select realtime_add_member($1, $2) as v", [room, u])).toBe(true);
      const r = await join(room, u);

      expect(r).toMatchObject({ joined: false, memberCount: 1 });
      expect(await send(room, u)).toMatchObject({ roomName: room });
    });
  }

  it("lets a former member of a private room back in only when added again", async () => {
    const room = await create("group", "private");
    const u = uid("u");
    await ctx.db.q("select realtime_add_member($1, $2)", [room, u]);
    await ctx.db.q("select realtime_leave_room($1, $2)", [room, u]);

    await expectSqlError(join(room, u), "RT403");
  });
});

describe("dm", () => {
  it("has one room per pair, whatever the order, with both users as members", async () => {
    const [a, b] = [uid("a"), uid("b")];

    const first = await ctx.db.v("select realtime_open_dm($1, $2) as v", [a, b]);
    const again = await ctx.db.v("select realtime_open_dm($1, $2) as v", [a, b]);
    const reversed = await ctx.db.v("select realtime_open_dm($1, $2) as v", [b, a]);

    expect(first).toMatchObject({ type: "dm", visibility: "private", name: `dm:${a}:${b}` });
    expect(again.id).toBe(first.id);
    expect(reversed.id).toBe(first.id);
    expect(await isMember(first.name, a)).toBe(true);
    expect(await isMember(first.name, b)).toBe(true);
    expect(await memberNotes(first.name)).toHaveLength(2);
  });

  it("admits exactly its two users", async () => {
    const [a, b, c] = [uid("a"), uid("b"), uid("c")];
    const dm = (await ctx.db.v("select realtime_open_dm($1, $2) as v", [a, b])).name;

    expect((await join(dm, a)).joined).toBe(false);
    await expectSqlError(join(dm, c), "RT403", /direct conversation/);
    await expectSqlError(join(dm, null, { anonymous: true }), "RT403");
    await expectSqlError(ctx.db.q("select realtime_add_member($1, $2)", [dm, c]), "RT403", /exactly its two users/);
    await expectSqlError(send(dm, c), "RT403");
    expect(await send(dm, b)).toMatchObject({ roomName: dm });
  });

  it("lets one of its users rejoin after leaving", async () => {
    const [a, b] = [uid("a"), uid("b")];
    const dm = (await ctx.db.v("select realtime_open_dm($1, $2) as v", [a, b])).name;
    await ctx.db.q("select realtime_leave_room($1, $2)", [dm, a]);

    expect((await join(dm, a)).joined).toBe(true);
  });

  it("keeps pairs apart when user ids contain colons (dm:a:b:c is ambiguous)", async () => {
    const p = uid("p");
    const one = await ctx.db.v("select realtime_open_dm($1, $2) as v", [`${p}a:b`, `${p}c`]);
    const two = await ctx.db.v("select realtime_open_dm($1, $2) as v", [`${p}a`, `${p}b:c`]);

    expect(one.id).not.toBe(two.id);
    expect(one.name).toMatch(/^dm:[0-9a-f]{32}$/);
    expect((await ctx.db.v("select realtime_open_dm($1, $2) as v", [`${p}c`, `${p}a:b`])).id).toBe(one.id);
  });

  it("names the room with a hash when the ids are too long", async () => {
    const r = await ctx.db.v("select realtime_open_dm($1, $2) as v", ["a".repeat(200), "b".repeat(200)]);
    expect(r.name).toMatch(/^dm:[0-9a-f]{32}$/);
  });

  it("refuses a dm with oneself or without two users (RT400), and dm rooms from realtime_create_room", async () => {
    await expectSqlError(ctx.db.q("select realtime_open_dm('x', 'x')"), "RT400", /two different users/);
    await expectSqlError(ctx.db.q("select realtime_open_dm('x', null)"), "RT400");
    await expectSqlError(ctx.db.q("select realtime_create_room('some-dm', 'dm')"), "RT400", /realtime_open_dm/);
    await expectSqlError(ctx.db.q("select realtime_create_room('dm:x:y')"), "RT400", /reserved/);
  });
});

describe("broadcast", () => {
  it("lets anyone join a public broadcast room but only permitted senders send", async () => {
    // Setup: owner, admin, a listed sender, a role holder, a plain member.
    const owner = uid("owner");
    const [admin, listed, roleHolder, plain] = [uid("admin"), uid("listed"), uid("role"), uid("plain")];
    const room = await create("broadcast", "public", { senders: [listed], senderRoles: ["announcer"] }, owner);
    await ctx.db.q("select realtime_add_member($1, $2, 'admin')", [room, admin]);
    for (const u of [listed, roleHolder, plain]) expect((await join(room, u)).joined).toBe(true);

    // Assertions
    expect(await send(room, owner)).toMatchObject({ roomName: room });
    expect(await send(room, admin)).toMatchObject({ roomName: room });
    expect(await send(room, listed)).toMatchObject({ roomName: room });
    expect(await send(room, roleHolder, ["announcer"])).toMatchObject({ roomName: room });
    await expectSqlError(send(room, roleHolder, ["reader"]), "RT403", /permitted senders/);
    await expectSqlError(send(room, plain), "RT403", /permitted senders/);
    await expectSqlError(send(room, uid("outsider"), ["announcer"]), "RT403", /not a member/);
  });

  it("follows its visibility for joining: a private broadcast room admits members only", async () => {
    const room = await create("broadcast", "private");
    await expectSqlError(join(room, uid("u")), "RT403");
  });

  it("ignores a senderRoles value that is not an array", async () => {
    const u = uid("u");
    const room = await create("broadcast", "public", { senderRoles: "announcer" });
    await join(room, u);
    await expectSqlError(send(room, u, ["announcer"]), "RT403");
  });
});

describe("unknown rooms and automatic creation", () => {
  it("answers RT404 for an unknown room", async () => {
    await expectSqlError(join(uid("nowhere"), uid("u")), "RT404", /does not exist/);
    await expectSqlError(ctx.db.q("select realtime_leave_room($1, 'u')", [uid("nowhere")]), "RT404");
    await expectSqlError(send(uid("nowhere"), "u"), "RT404");
  });

  it("creates a public channel on join when auto-create is on, but never for anonymous users or dm: names", async () => {
    const name = uid("auto");
    const u = uid("u");

    const r = await join(name, u, { autoCreate: true });

    expect(r).toMatchObject({ joined: true, room: { name, type: "channel", visibility: "public" } });
    await expectSqlError(join(uid("auto"), null, { anonymous: true, autoCreate: true }), "RT404");
    await expectSqlError(join("dm:x:" + uid("y"), u, { autoCreate: true }), "RT404");
  });

  it("lets two concurrent auto-creating joins of the same new room both succeed", async () => {
    const name = uid("race");
    const [a, b] = [await connectPg(ctx.db.url), await connectPg(ctx.db.url)];
    try {
      await a.query("begin");
      await b.query("begin");
      await a.query("select realtime_join_room($1, 'ua', false, true)", [name]);
      // b waits on a's uncommitted room row.
      const pending = b.query("select realtime_join_room($1, 'ub', false, true) as v", [name]);
      await sleep(100);
      await a.query("commit");
      const joined = (await pending).rows[0].v;
      await b.query("commit");

      expect(joined).toMatchObject({ joined: true, memberCount: 2, room: { name } });
    } finally {
      await a.end();
      await b.end();
    }
  });
});

describe("creating, leaving and deleting", () => {
  it("refuses a taken name (RT409) and bad type, visibility, name or metadata (RT400)", async () => {
    const name = await create();
    await expectSqlError(ctx.db.q("select realtime_create_room($1)", [name]), "RT409", /already exists/);
    await expectSqlError(ctx.db.q("select realtime_create_room($1, 'forum')", [uid("r")]), "RT400", /room type/);
    await expectSqlError(ctx.db.q("select realtime_create_room($1, 'channel', 'secret')", [uid("r")]), "RT400", /visibility/);
    await expectSqlError(ctx.db.q("select realtime_create_room($1)", ["r".repeat(256)]), "RT400", /room name/);
    await expectSqlError(ctx.db.q("select realtime_create_room(' padded ')"), "RT400", /room name/);
    await expectSqlError(ctx.db.q("select realtime_create_room(e'tab\\there')"), "RT400", /room name/);
    await expectSqlError(ctx.db.q("select realtime_create_room($1, p_metadata => '[1]')", [uid("r")]), "RT400", /metadata/);
    await expectSqlError(ctx.db.q("select realtime_add_member($1, 'u', 'king')", [name]), "RT400", /role/);
  });

  it("makes the creator the owner", async () => {
    const owner = uid("o");
    const room = await create("group", "private", {}, owner);
    expect(await ctx.db.v("select role as v from realtime_room_members m join realtime_rooms r on r.id = m.room_id where r.name = $1 and user_id = $2", [room, owner])).toBe("owner");
  });

  it("announces a leave once; leaving twice returns false", async () => {
    const room = await create();
    const u = uid("u");
    await join(room, u);
    await ctx.l.reset();

    expect(await ctx.db.v("select realtime_leave_room($1, $2, $3) as v", [room, u, at(5)])).toBe(true);
    expect(await ctx.db.v("select realtime_leave_room($1, $2) as v", [room, u])).toBe(false);

    expect(await memberNotes(room)).toEqual([{ v: 1, kind: "member", op: "left", room, userId: u }]);
    const history = await ctx.db.q("select left_at from realtime_room_members m join realtime_rooms r on r.id = m.room_id where r.name = $1", [room]);
    expect(history).toHaveLength(1);
    expect(history[0].left_at).toEqual(new Date(at(5)));
    expect((await join(room, u)).joined).toBe(true); // a new membership row begins
  });

  it("deletes a room with its memberships and tells members they left", async () => {
    const room = await create();
    const [a, b] = [uid("a"), uid("b")];
    await join(room, a);
    await join(room, b);
    await ctx.l.reset();

    expect(await ctx.db.v("select realtime_delete_room($1) as v", [room])).toBe(true);

    expect((await memberNotes(room)).map((m) => [m.op, m.userId]).sort()).toEqual([["left", a], ["left", b]]);
    expect(await ctx.db.v("select count(*)::int as v from realtime_rooms where name = $1", [room])).toBe(0);
    await expectSqlError(ctx.db.q("select realtime_delete_room($1)", [room]), "RT404");
  });

  it("lists the user's active rooms on connect", async () => {
    const u = uid("u");
    const [r1, r2] = [await create(), await create()];
    await join(r1, u);
    await join(r2, u);
    await ctx.db.q("select realtime_leave_room($1, $2)", [r2, u]);

    const r = await ctx.db.v("select realtime_register_connection($1, $2) as v", [uid("s"), u]);

    expect(r.rooms).toEqual([r1]);
  });
});

describe("realtime_send_messages", () => {
  it("stores the allowed messages of a batch and refuses the others, in order", async () => {
    await ctx.db.q("select realtime_create_room('batch-room')");
    await ctx.db.q("select realtime_join_room('batch-room', 'writer')");

    const results = await ctx.db.v("select realtime_send_messages($1::jsonb) as v", [
      JSON.stringify([
        { roomName: "batch-room", userId: "writer", content: "one" },
        { roomName: "batch-room", userId: "stranger", content: "two" },
        { roomName: "no-such-room", userId: "writer", content: "three" },
        { roomName: "batch-room", userId: "writer", content: "" },
        "not an object",
        { roomName: "batch-room", userId: "writer", content: "four", threadId: "t1", metadata: { a: 1 } },
      ]),
    ]);

    expect(results.map((r: any) => (r.ok ? "ok" : r.error.code))).toEqual(["ok", "RT403", "RT404", "RT400", "RT400", "ok"]);
    expect(results[5].message).toMatchObject({ content: "four", threadId: "t1", metadata: { a: 1 }, roomName: "batch-room" });
    expect(results[5].message.id).toBeGreaterThan(results[0].message.id);
    const stored = await ctx.db.q("select data ->> 'content' as content from realtime_events where room_name = 'batch-room' order by seq");
    expect(stored.map((r) => r.content)).toEqual(["one", "four"]);
  });

  it("refuses what is not an array", async () => {
    await expectSqlError(ctx.db.q("select realtime_send_messages('{}'::jsonb)"), "RT400", /array/);
  });
  it("gives the stored messages increasing ids in input order across rooms, users and refusals", async () => {
    const [r1, r2] = [await create(), await create()];
    const [a, b] = [uid("a"), uid("b")];
    for (const r of [r1, r2]) for (const u of [a, b]) await join(r, u);
    const batch = Array.from({ length: 40 }, (_, i) => ({
      roomName: i % 3 === 0 ? r2 : r1,
      userId: i % 2 === 0 ? a : b,
      content: i % 7 === 5 ? "" : `m${i}`,
      clientMessageId: i % 4 === 0 ? `k${i}` : undefined,
    }));

    const results = await ctx.db.v("select realtime_send_messages($1::jsonb) as v", [JSON.stringify(batch)]);

    expect(results).toHaveLength(40);
    results.forEach((r: any, i: number) => {
      if (i % 7 === 5) expect(r).toEqual({ ok: false, error: { code: "RT400", message: "message content must be 1 to 10000 characters" } });
      else expect(r.message).toMatchObject({ content: `m${i}`, roomName: batch[i].roomName, userId: batch[i].userId });
    });
    const ids = results.filter((r: any) => r.ok).map((r: any) => Number(r.message.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("answers every refusal of a batch with realtime_send_message's code and message, storing the others", async () => {
    const owner = uid("o");
    const bc = await create("broadcast", "public", { senders: [], senderRoles: ["editor"] }, owner);
    const room = await create();
    const [u, plain] = [uid("u"), uid("p")];
    await join(room, u);
    await join(bc, plain);
    const cases = [
      { roomName: room, userId: u, content: "ok 1" },
      { roomName: room, userId: u, content: "x", threadId: "" },
      { roomName: room, userId: u, content: "x", metadata: "text" },
      { roomName: room, userId: u, content: "x", metadata: { big: "y".repeat(9000) } },
      { roomName: room, userId: u, content: null },
      { roomName: bc, userId: plain, content: "x" },
      { roomName: bc, userId: plain, content: "ok 2", roles: ["editor"] },
      { roomName: bc, userId: owner, content: "ok 3" },
      { roomName: room, userId: null, content: "x" },
    ];

    const results = await ctx.db.v("select realtime_send_messages($1::jsonb) as v", [JSON.stringify(cases)]);

    expect(results.map((r: any) => (r.ok ? r.message.content : r.error.code))).toEqual(["ok 1", "RT400", "RT400", "RT400", "RT400", "RT403", "ok 2", "ok 3", "RT403"]);
    for (const [i, c] of cases.entries()) {
      if (results[i].ok) continue;
      const err = await expectSqlError(
        ctx.db.q("select realtime_send_message($1, $2, $3, $4, $5, $6)", [c.roomName, c.userId, c.content, c.threadId ?? null, c.metadata === undefined ? null : JSON.stringify(c.metadata), c.roles ?? []]),
        results[i].error.code,
      );
      expect(err.message).toBe(results[i].error.message);
    }
  });

  it("clears the senders' typing and announces each room/thread whose typers changed once per batch", async () => {
    const [r1, r2] = [await create(), await create()];
    const [a, b, c] = [uid("a"), uid("b"), uid("c")];
    for (const r of [r1, r2]) for (const u of [a, b, c]) await join(r, u);
    for (const [r, u, t] of [[r1, a, null], [r1, b, null], [r1, c, null], [r1, a, "t1"], [r2, a, null]] as const) {
      await ctx.db.q("select realtime_start_typing($1, $2, $3, null, interval '1 hour')", [r, u, t]);
    }
    await ctx.l.reset();

    const results = await ctx.db.v("select realtime_send_messages($1::jsonb) as v", [
      JSON.stringify([
        { roomName: r1, userId: a, content: "1" },
        { roomName: r1, userId: b, content: "2" },
        { roomName: r1, userId: a, content: "3" },
        { roomName: r1, userId: a, content: "4", threadId: "t1" },
        { roomName: r2, userId: b, content: "5" }, // b was not typing in r2: nothing changes there
        { roomName: r1, userId: c, content: "" }, // refused: c keeps typing
      ]),
    ]);

    expect(results.map((r: any) => r.ok)).toEqual([true, true, true, true, true, false]);
    await ctx.l.sync();
    const notes = ctx.l.ofKind("typing").filter((m) => m.room === r1 || m.room === r2);
    expect(notes.map((m) => [m.room, m.threadId, m.users]).sort()).toEqual(
      [
        [r1, null, [c]],
        [r1, "t1", []],
      ].sort(),
    );
    expect(await ctx.db.v("select array_agg(user_id::text order by user_id) as v from realtime_typing where room_name = any ($1)", [[r1, r2]])).toEqual([a, c].sort());
  });
});

describe("realtime_join_rooms", () => {
  async function joinBatch(items: unknown[], now?: string): Promise<any[]> {
    return now === undefined
      ? ctx.db.v("select realtime_join_rooms($1::jsonb) as v", [JSON.stringify(items)])
      : ctx.db.v("select realtime_join_rooms($1::jsonb, $2) as v", [JSON.stringify(items), now]);
  }
  const item = (roomName: string, userId: string | null, o: { anonymous?: boolean; autoCreate?: boolean; since?: number | null; replayLimit?: number } = {}) => ({
    roomName,
    userId,
    anonymous: o.anonymous ?? false,
    autoCreate: o.autoCreate ?? false,
    since: o.since ?? null,
    replayLimit: o.replayLimit ?? 100,
  });

  it("answers per join exactly what realtime_join_room returns", async () => {
    const [r1, r2] = [await create(), await create()];
    const [a, b] = [uid("a"), uid("b")];
    await join(r2, b);
    await ctx.db.q("select realtime_start_typing($1, $2, null, null, interval '1 hour')", [r2, b]);

    const results = await joinBatch([item(r1, a), item(r2, a)], at(10));
    // The same joins again, one by one and as a batch: both see the memberships already made.
    const single = await ctx.db.v("select jsonb_build_array(realtime_join_room($1, $3, p_now => $4), realtime_join_room($2, $3, p_now => $4)) as v", [r1, r2, a, at(10)]);
    const again = await joinBatch([item(r1, a), item(r2, a)], at(10));

    expect(results.map((r) => r.ok)).toEqual([true, true]);
    expect(results[0].value).toMatchObject({ joined: true, memberCount: 1, room: { name: r1 } });
    expect(results[1].value).toMatchObject({ joined: true, memberCount: 2, typing: [{ userId: b, threadId: null }] });
    expect(again.map((r) => r.value)).toEqual(single);
    expect(single[1]).toEqual({ ...results[1].value, joined: false });
    expect(await memberNotes(r1)).toEqual([{ v: 1, kind: "member", op: "joined", room: r1, userId: a }]);
  });

  it("refuses a join without failing the others, with realtime_join_room's codes and messages, and a refused join changes nothing", async () => {
    const [pub, priv] = [await create(), await create("group", "private")];
    const [a, b, c] = [uid("a"), uid("b"), uid("c")];
    const dm = (await ctx.db.v("select realtime_open_dm($1, $2) as v", [b, c])).name;
    const missing = uid("nowhere");
    await ctx.l.reset();

    const results = await joinBatch([
      item(pub, a),
      item(priv, a),
      item(missing, a),
      item(dm, a),
      item(pub, null, { anonymous: false }),
      item(pub, b, { since: -1 }),
      item(pub, b, { since: 0, replayLimit: 0 }),
      "not an object",
      { ...item(pub, b), since: "yesterday" },
      item(pub, c),
    ]);

    expect(results.map((r) => (r.ok ? "ok" : r.error.code))).toEqual(["ok", "RT403", "RT404", "RT403", "RT400", "RT400", "RT400", "RT400", "RT400", "ok"]);
    expect(results[1].error.message).toBe(`room ${priv} is private and you are not a member`);
    expect(results[2].error.message).toBe(`room ${missing} does not exist`);
    expect(results[3].error.message).toBe(`room ${dm} is a direct conversation of two other users`);
    expect(results[4].error.message).toBe("user id must be 1 to 255 characters");
    expect(results[5].error.message).toBe("since must be a non-negative event id");
    expect(results[6].error.message).toBe("limit must be between 1 and 1000");
    expect(results[9].value).toMatchObject({ joined: true, memberCount: 2 });
    // The single-join function raises the same.
    for (const [i, r] of [[1, priv], [2, missing], [3, dm]] as const) {
      await expectSqlError(join(r, a), results[i].error.code, new RegExp(results[i].error.message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    }
    expect(await isMember(priv, a)).toBe(false);
    expect(await isMember(pub, b)).toBe(false);
    expect((await memberNotes(pub)).map((m) => m.userId)).toEqual([a, c]);
    expect(await memberNotes(priv)).toEqual([]);
  });

  it("lets anonymous users into public rooms only, without a membership", async () => {
    const [pub, priv] = [await create(), await create("channel", "private")];

    const results = await joinBatch([item(pub, null, { anonymous: true }), item(priv, null, { anonymous: true }), item(uid("auto"), null, { anonymous: true, autoCreate: true })]);

    expect(results[0]).toMatchObject({ ok: true, value: { joined: false, memberCount: 0, room: { name: pub } } });
    expect(results[1]).toEqual({ ok: false, error: { code: "RT403", message: "anonymous users may only join public rooms" } });
    expect(results[2].error.code).toBe("RT404");
    expect(await memberNotes(pub)).toEqual([]);
  });

  it("replays the messages after since, as realtime_join_room does", async () => {
    const room = await create();
    const [w, r] = [uid("w"), uid("r")];
    await join(room, w);
    const first = await ctx.db.v("select (realtime_send_message($1, $2, 'a') ->> 'id')::bigint as v", [room, w]);
    for (const content of ["b", "c", "d"]) await ctx.db.q("select realtime_send_message($1, $2, $3)", [room, w, content]);

    const [member, anonymous, none] = await joinBatch([
      item(room, r, { since: Number(first), replayLimit: 2 }),
      item(room, null, { anonymous: true, since: Number(first) }),
      item(room, w),
    ]);

    expect(member.value.joined).toBe(true);
    expect(member.value.replay).toMatchObject({ gap: true });
    expect(member.value.replay.events.map((e: any) => e.content)).toEqual(["c", "d"]);
    expect(anonymous.value.replay).toMatchObject({ gap: false });
    expect(anonymous.value.replay.events.map((e: any) => e.content)).toEqual(["b", "c", "d"]);
    expect(none.value.replay).toBeUndefined();
    const single = await ctx.db.v("select realtime_join_room($1, null, true, false, now(), $2) as v", [room, first]);
    expect(single.replay).toEqual(anonymous.value.replay);
  });

  it("creates missing rooms when asked, once for repeated joins, and refuses a bad name alone", async () => {
    const name = uid("auto");
    const [a, b] = [uid("a"), uid("b")];

    const results = await joinBatch([
      item(name, a, { autoCreate: true }),
      item(" padded", a, { autoCreate: true }),
      item(name, b, { autoCreate: true }),
      item(name, a, { autoCreate: true }),
      item("dm:x:" + uid("y"), a, { autoCreate: true }),
    ]);

    expect(results.map((r) => (r.ok ? r.value.joined : r.error.code))).toEqual([true, "RT400", true, false, "RT404"]);
    expect(results[1].error.message).toMatch(/room name/);
    // Every join of a room in one call commits together: each is answered with the members after all of them.
    expect(results.map((r) => r.value?.memberCount)).toEqual([2, undefined, 2, 2, undefined]);
    expect(results[0].value.members.map((m: any) => m.userId).sort()).toEqual([a, b].sort());
    expect(await ctx.db.v("select count(*)::int as v from realtime_rooms where name = $1", [name])).toBe(1);
  });

  it("refuses what is not an array, and more than 1000 joins", async () => {
    await expectSqlError(ctx.db.q("select realtime_join_rooms('{}'::jsonb)"), "RT400", /array/);
    await expectSqlError(ctx.db.q("select realtime_join_rooms((select jsonb_agg(i) from generate_series(1, 1001) i))"), "RT400", /1000/);
    expect(await ctx.db.v("select realtime_join_rooms('[]'::jsonb) as v")).toEqual([]);
  });
});
