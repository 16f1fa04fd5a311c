// Rooms and membership from the command line: create-room, delete-room, rooms, members,
// add-member, remove-member, open-dm, presence.
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { cliEnv, type Env, errorLine, json, runCli, tempDir } from "./run.js";

let db: TestDatabase;
let env: Env;
let cwd: string;
const cli = (...args: string[]) => runCli(args, env, { cwd });

beforeAll(async () => {
  db = await createTestDatabase();
  cwd = tempDir();
  env = cliEnv({ DATABASE_URL: db.url, REALTIME_DATA_DIR: cwd });
});

afterAll(async () => {
  await db?.drop();
  if (cwd) fs.rmSync(cwd, { recursive: true, force: true });
});

describe.concurrent("create-room", { timeout: 60_000 }, () => {
  it("creates a room through realtime_create_room and says so", async () => {
    const r = await cli("create-room", "general", "--type", "channel", "--visibility", "public");

    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Created room general (channel, public)");
    const [row] = await db.q("select type, visibility from realtime_rooms where name = 'general'");
    expect(row).toEqual({ type: "channel", visibility: "public" });
  });

  it("stores metadata and makes --owner the owner; --json prints the room", async () => {
    const r = await cli(
      "create-room", "staff", "--type", "group", "--visibility", "private",
      "--metadata", '{"topic":"ops"}', "--owner", "alice", "--json",
    );

    expect(r.code).toBe(0);
    const room = json(r);
    expect(room).toMatchObject({ name: "staff", type: "group", visibility: "private", metadata: { topic: "ops" } });
    expect(typeof room.id).toBe("string");
    const members = await db.q("select user_id, role from realtime_room_members where left_at is null and room_id = $1", [room.id]);
    expect(members).toEqual([{ user_id: "alice", role: "owner" }]);
  });

  it("refuses a duplicate name with one line and exit 1", async () => {
    await cli("create-room", "dup-room");

    const r = await cli("create-room", "dup-room");

    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe("Error: room dup-room already exists");
    expect(r.stdout).toBe("");
  });

  it("refuses a duplicate name in --json mode without printing anything on stdout", async () => {
    await db.q("select realtime_create_room('dup-json')");

    const r = await cli("create-room", "dup-json", "--json");

    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(errorLine(r)).toBe("Error: room dup-json already exists");
  });

  it("rejects a bad --type, bad --metadata and a missing name as usage errors (exit 2)", async () => {
    const [badType, badJson, notObject, missing] = await Promise.all([
      cli("create-room", "x1", "--type", "dm"),
      cli("create-room", "x2", "--metadata", "{nope"),
      cli("create-room", "x3", "--metadata", "[1,2]"),
      cli("create-room"),
    ]);

    expect(badType.code).toBe(2);
    expect(errorLine(badType)).toMatch(/--type=dm.*channel, group, broadcast/);
    expect(badJson.code).toBe(2);
    expect(errorLine(badJson)).toMatch(/--metadata is not valid JSON/);
    expect(notObject.code).toBe(2);
    expect(errorLine(notObject)).toMatch(/--metadata must be a JSON object/);
    expect(missing.code).toBe(2);
    expect(errorLine(missing)).toBe("Error: missing required argument: NAME (see --help)");
    expect(await db.v("select count(*)::int as v from realtime_rooms where name like 'x_'")).toBe(0);
  });

  it("reports the SQL function's validation message for an invalid name", async () => {
    const r = await cli("create-room", " padded ");

    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/room name must be 1 to 255 characters/);
  });
});

describe.concurrent("rooms", { timeout: 60_000 }, () => {
  it("lists rooms as an aligned table with member and online counts", async () => {
    await cli("create-room", "lobby");
    await db.q("select realtime_add_member('lobby', u) from unnest(array['u1','u2','u3']) u");
    await db.q("select realtime_register_connection('sock-u1', 'u1')");

    const r = await cli("rooms");

    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+TYPE\s+VISIBILITY\s+MEMBERS\s+ONLINE\s+CREATED$/);
    const lobby = lines.find((l) => l.startsWith("lobby "));
    expect(lobby).toMatch(/^lobby\s+channel\s+public\s+3\s+1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    // Columns line up: every row starts its TYPE column where the header does.
    const typeCol = lines[0].indexOf("TYPE");
    for (const line of lines.slice(1)) expect(line.slice(typeCol - 2, typeCol)).toBe("  ");
  });

  it("--json prints an array of rooms; --type filters", async () => {
    await db.q("select realtime_create_room('json-channel', 'channel', 'public')");
    await db.q("select realtime_create_room('json-group', 'group', 'private')");
    await db.q("select realtime_add_member('json-group', u) from unnest(array['g1','g2']) u");

    const all = json<any[]>(await cli("rooms", "--json"));
    const groups = json<any[]>(await cli("rooms", "--type", "group", "--json"));

    const group = all.find((r) => r.name === "json-group");
    expect(group).toEqual({ name: "json-group", type: "group", visibility: "private", memberCount: 2, onlineCount: 0, createdAt: expect.any(String) });
    expect(Number.isNaN(Date.parse(group.createdAt))).toBe(false);
    expect(all.map((r) => r.name)).toContain("json-channel");
    expect(groups.map((r) => r.name)).toContain("json-group");
    expect(groups.every((r) => r.type === "group")).toBe(true);
  });

  it("says so when there are no rooms of a type", async () => {
    const r = await cli("rooms", "--type", "broadcast");

    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("No broadcast rooms.");
  });

  it("rejects an unknown flag", async () => {
    const r = await cli("rooms", "--bogus");

    expect(r.code).toBe(2);
    expect(errorLine(r)).toMatch(/Nonexistent flag: --bogus/);
  });
});

describe.concurrent("membership", { timeout: 60_000 }, () => {
  it("add-member, members and remove-member go through the SQL functions", async () => {
    await cli("create-room", "team", "--type", "group", "--visibility", "private");

    const added = await cli("add-member", "team", "bob", "--role", "admin");
    const again = await cli("add-member", "team", "bob");
    await db.q("select realtime_set_presence('bob', 'busy', '{\"text\":\"in a meeting\",\"emoji\":\"📅\"}')");
    await db.q("select realtime_register_connection('sock-bob', 'bob')");
    const [listed, listedJsonResult] = await Promise.all([cli("members", "team"), cli("members", "team", "--json")]);
    const listedJson = json<any[]>(listedJsonResult);
    const removed = await cli("remove-member", "team", "bob");
    const removedAgain = await cli("remove-member", "team", "bob");

    expect(added.code).toBe(0);
    expect(added.stdout).toContain("Added bob to team as admin");
    expect(again.stdout).toContain("bob is already a member of team");
    expect(listed.stdout).toMatch(/^USER\s+ROLE\s+STATUS\s+CUSTOM STATUS\s+JOINED\s+LAST SEEN/);
    expect(listed.stdout).toMatch(/bob\s+admin\s+busy\s+📅 in a meeting/);
    expect(listedJson).toEqual([
      expect.objectContaining({ userId: "bob", role: "admin", status: "busy", customStatus: { text: "in a meeting", emoji: "📅" } }),
    ]);
    expect(removed.stdout).toContain("Removed bob from team");
    expect(removedAgain.code).toBe(0);
    expect(removedAgain.stdout).toContain("bob is not a member of team");
    expect(await db.v("select count(*)::int as v from realtime_room_members m join realtime_rooms r on r.id = m.room_id where r.name = 'team' and m.left_at is null")).toBe(0);
  });

  it("add-member --json reports whether a membership began", async () => {
    await db.q("select realtime_create_room('json-members')");

    const first = json(await cli("add-member", "json-members", "carol", "--json"));
    const second = json(await cli("add-member", "json-members", "carol", "--json"));

    expect(first).toEqual({ room: "json-members", userId: "carol", role: "member", added: true });
    expect(second.added).toBe(false);
  });

  it("rejects a bad role before calling the database", async () => {
    const r = await cli("add-member", "anything", "dave", "--role", "king");

    expect(r.code).toBe(2);
    expect(errorLine(r)).toMatch(/--role=king.*owner, admin, member/);
  });

  it("unknown rooms fail with 'room x does not exist' and exit 1", async () => {
    const commands = [["members", "nope"], ["add-member", "nope", "bob"], ["remove-member", "nope", "bob"], ["delete-room", "nope"]];
    const results = await Promise.all(commands.map((args) => cli(...args)));
    results.forEach((r, i) => {
      expect(r.code, commands[i].join(" ")).toBe(1);
      expect(errorLine(r)).toBe("Error: room nope does not exist");
    });
  });

  it("a dm room refuses a third member (RT403)", async () => {
    const dm = json(await cli("open-dm", "erin", "frank", "--json"));

    const r = await cli("add-member", dm.name, "mallory");

    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/a dm room has exactly its two users/);
  });

  it("open-dm returns the one room of a pair in either order", async () => {
    const first = await cli("open-dm", "zoe", "yann");
    const second = json(await cli("open-dm", "yann", "zoe", "--json"));

    expect(first.code).toBe(0);
    expect(first.stdout).toContain("DM room dm:yann:zoe");
    expect(second).toMatchObject({ name: "dm:yann:zoe", type: "dm", visibility: "private" });
    expect(await db.v("select count(*)::int as v from realtime_rooms where type = 'dm' and name = 'dm:yann:zoe'")).toBe(1);
  });

  it("open-dm with the same user twice fails with the SQL function's reason", async () => {
    const r = await cli("open-dm", "zoe", "zoe");

    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe("Error: a dm needs two different users");
  });
});

describe.concurrent("delete-room", { timeout: 60_000 }, () => {
  it("deletes the room and its memberships", async () => {
    await cli("create-room", "doomed");
    await cli("add-member", "doomed", "gina");

    const r = await cli("delete-room", "doomed");

    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Deleted room doomed");
    expect(await db.v("select count(*)::int as v from realtime_rooms where name = 'doomed'")).toBe(0);
  });
});

describe.concurrent("presence", { timeout: 60_000 }, () => {
  it("shows several users in the order given; unknown users are offline", async () => {
    await db.q("select realtime_register_connection('sock-hal', 'hal')");
    await db.q("select realtime_set_presence('hal', 'away')");

    const table = await cli("presence", "hal", "nobody");
    const data = json<any[]>(await cli("presence", "hal", "nobody", "--json"));

    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/hal\s+away/);
    expect(table.stdout).toMatch(/nobody\s+offline/);
    expect(data.map((p) => [p.userId, p.status])).toEqual([["hal", "away"], ["nobody", "offline"]]);
  });

  it("needs at least one user", async () => {
    const r = await cli("presence");

    expect(r.code).toBe(2);
  });
});
