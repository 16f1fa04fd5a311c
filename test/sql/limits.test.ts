// Limits on what is stored (functions/limits.sql): one row in realtime_limits, read by the sending
// and presence rules, so a psql caller is refused exactly as the relay is.
import { afterEach, describe, expect, it } from "vitest";
import { Db } from "../../lib/db.js";
import { PRESENCE_STATUSES } from "../../protocol/events.js";
import { applyConfiguredLimits, LimitsError } from "../../lib/limits.js";
import { uid } from "../helpers/names.js";
import { expectSqlError, useDatabase } from "./support.js";

const ctx = useDatabase();

const DEFAULTS = {
  maxMessageLength: 10000,
  maxMessageMetadataBytes: 8192,
  maxCustomStatusText: 128,
  maxCustomStatusEmoji: 32,
  statuses: ["online", "away", "busy", "offline"],
  customStatusKeys: ["text", "emoji", "expiresAt"],
};

async function limits() {
  return ctx.db.v("select realtime_limits() as v");
}
async function setLimits(changes: Record<string, unknown>) {
  return ctx.db.v("select realtime_set_limits($1::jsonb) as v", [JSON.stringify(changes)]);
}
async function roomWith(user: string) {
  const room = uid("room");
  await ctx.db.q("select realtime_create_room($1)", [room]);
  await ctx.db.q("select realtime_add_member($1, $2)", [room, user]);
  return room;
}

afterEach(async () => {
  await setLimits({ maxMessageLength: 10000, maxMessageMetadataBytes: 8192, maxCustomStatusText: 128, maxCustomStatusEmoji: 32 });
});

describe("realtime_limits", () => {
  it("answers the defaults with the fixed lists", async () => {
    expect(await limits()).toMatchObject(DEFAULTS);
    expect(await ctx.db.v("select count(*)::int as v from realtime_limits")).toBe(1);
  });

  it("realtime_set_limits changes only the keys given and returns the new limits", async () => {
    const after = await setLimits({ maxMessageLength: 500 });
    expect(after).toMatchObject({ ...DEFAULTS, maxMessageLength: 500 });
    expect(await limits()).toMatchObject({ ...DEFAULTS, maxMessageLength: 500 });
  });

  it("refuses unknown keys, non-integers, values out of range and non-objects (RT400), changing nothing", async () => {
    await expectSqlError(setLimits({ maxMessageLength: 5, bogus: 1 }), "RT400", /unknown limit bogus/);
    await expectSqlError(setLimits({ maxMessageLength: 0 }), "RT400", /maxMessageLength must be an integer from 1 to 100000/);
    await expectSqlError(setLimits({ maxMessageLength: 100001 }), "RT400", /from 1 to 100000/);
    await expectSqlError(setLimits({ maxMessageLength: 12.5 }), "RT400", /integer/);
    await expectSqlError(setLimits({ maxMessageLength: "500" }), "RT400", /integer/);
    await expectSqlError(setLimits({ maxMessageMetadataBytes: -1 }), "RT400", /integer/);
    await expectSqlError(ctx.db.q("select realtime_set_limits('[1]')"), "RT400", /JSON object/);
    expect(await limits()).toMatchObject(DEFAULTS);
  });

  it("the table holds one row and no caller can add a second", async () => {
    await expectSqlError(ctx.db.q("insert into realtime_limits (id) values (false)"), "23514");
    await expectSqlError(ctx.db.q("insert into realtime_limits (id) values (true)"), "23505");
  });
});

describe("message content and metadata, as a psql caller", () => {
  it("refuses content longer than maxMessageLength (RT400) and accepts it at the limit", async () => {
    const u = uid("u");
    const room = await roomWith(u);
    await expectSqlError(
      ctx.db.q("select realtime_send_message($1, $2, $3)", [room, u, "x".repeat(10001)]),
      "RT400",
      /message content must be 1 to 10000 characters/,
    );
    const m = await ctx.db.v("select realtime_send_message($1, $2, $3) as v", [room, u, "x".repeat(10000)]);
    expect(m.content).toHaveLength(10000);
  });

  it("follows a changed maxMessageLength at once, both ways", async () => {
    const u = uid("u");
    const room = await roomWith(u);
    await setLimits({ maxMessageLength: 20000 });
    const m = await ctx.db.v("select realtime_send_message($1, $2, $3) as v", [room, u, "y".repeat(20000)]);
    expect(m.content).toHaveLength(20000);
    await setLimits({ maxMessageLength: 5 });
    await expectSqlError(ctx.db.q("select realtime_send_message($1, $2, 'sixsix')", [room, u]), "RT400", /1 to 5 characters/);
  });

  it("refuses metadata over maxMessageMetadataBytes of JSON (RT400), one message of a batch only", async () => {
    const u = uid("u");
    const room = await roomWith(u);
    const big = { k: "z".repeat(9000) };
    await expectSqlError(
      ctx.db.q("select realtime_send_message($1, $2, 'hi', null, $3::jsonb)", [room, u, JSON.stringify(big)]),
      "RT400",
      /message metadata must be at most 8192 bytes of JSON/,
    );
    const results = await ctx.db.v("select realtime_send_messages($1::jsonb) as v", [
      JSON.stringify([
        { roomName: room, userId: u, content: "big", metadata: big },
        { roomName: room, userId: u, content: "small", metadata: { k: "z" } },
      ]),
    ]);
    expect(results[0]).toEqual({ ok: false, error: { code: "RT400", message: "message metadata must be at most 8192 bytes of JSON" } });
    expect(results[1]).toMatchObject({ ok: true, message: { content: "small", metadata: { k: "z" } } });

    await setLimits({ maxMessageMetadataBytes: 16384 });
    const m = await ctx.db.v("select realtime_send_message($1, $2, 'now fits', null, $3::jsonb) as v", [room, u, JSON.stringify(big)]);
    expect(m.metadata).toEqual(big);
  });
});

describe("presence, as a psql caller", () => {
  it("refuses a status outside realtime_presence_statuses() (RT400), the list the protocol's type names", async () => {
    expect(await ctx.db.v("select realtime_presence_statuses() as v")).toEqual(DEFAULTS.statuses);
    expect([...PRESENCE_STATUSES]).toEqual(DEFAULTS.statuses);
    await expectSqlError(
      ctx.db.q("select realtime_set_presence($1, 'dancing')", [uid("u")]),
      "RT400",
      /status must be one of online, away, busy, offline \(got dancing\)/,
    );
  });

  it("holds custom status text and emoji to maxCustomStatusText and maxCustomStatusEmoji (RT400)", async () => {
    const u = uid("u");
    await expectSqlError(
      ctx.db.q("select realtime_set_presence($1, 'online', $2::jsonb)", [u, JSON.stringify({ text: "t".repeat(129) })]),
      "RT400",
      /text is longer than 128 characters/,
    );
    await expectSqlError(
      ctx.db.q("select realtime_set_presence($1, 'online', $2::jsonb)", [u, JSON.stringify({ emoji: "e".repeat(33) })]),
      "RT400",
      /emoji is longer than 32 characters/,
    );
    await ctx.db.q("select realtime_set_presence($1, 'online', $2::jsonb)", [u, JSON.stringify({ text: "t".repeat(128) })]);

    await setLimits({ maxCustomStatusText: 4, maxCustomStatusEmoji: 1 });
    await expectSqlError(
      ctx.db.q("select realtime_set_presence($1, 'online', $2::jsonb)", [u, JSON.stringify({ text: "hello" })]),
      "RT400",
      /text is longer than 4 characters/,
    );
    await expectSqlError(
      ctx.db.q("select realtime_set_presence($1, 'online', $2::jsonb)", [u, JSON.stringify({ emoji: "ab" })]),
      "RT400",
      /emoji is longer than 1 characters/,
    );
    await ctx.db.q("select realtime_set_presence($1, 'online', $2::jsonb)", [u, JSON.stringify({ text: "hey", emoji: "a" })]);
  });

  it("refuses custom status keys outside realtime_custom_status_keys() (RT400)", async () => {
    expect(await ctx.db.v("select realtime_custom_status_keys() as v")).toEqual(DEFAULTS.customStatusKeys);
    await expectSqlError(
      ctx.db.q("select realtime_set_presence($1, 'online', $2::jsonb)", [uid("u"), JSON.stringify({ text: "a", mood: "b" })]),
      "RT400",
      /text, emoji and expiresAt only/,
    );
  });
});

describe("REALTIME_MAX_MESSAGE_LENGTH at relay start (lib/limits.ts applyConfiguredLimits)", () => {
  async function withDb<T>(fn: (db: Db) => Promise<T>, role?: string): Promise<T> {
    const db = new Db({ connectionString: ctx.db.url, max: 1, applicationName: "limits-test" });
    try {
      if (role) await db.query("set_role", `set role ${role}`);
      return await fn(db);
    } finally {
      await db.close();
    }
  }

  it("reads the limits unchanged when the variable is unset or equal, and says nothing", async () => {
    const lines: string[] = [];
    const unset = await withDb((db) => applyConfiguredLimits(db, { limitsFromEnv: {} }, (l) => lines.push(l)));
    const equal = await withDb((db) => applyConfiguredLimits(db, { limitsFromEnv: { maxMessageLength: 10000 } }, (l) => lines.push(l)));

    expect(unset.maxMessageLength).toBe(10000);
    expect(equal.maxMessageLength).toBe(10000);
    expect(lines).toEqual([]);
  });

  it("writes a different value to the database as the owner and says so in one line", async () => {
    const lines: string[] = [];
    const limits = await withDb((db) => applyConfiguredLimits(db, { limitsFromEnv: { maxMessageLength: 2000 } }, (l) => lines.push(l)));

    expect(limits.maxMessageLength).toBe(2000);
    expect((await ctx.db.v("select realtime_limits() as v")).maxMessageLength).toBe(2000);
    expect(lines).toEqual([expect.stringMatching(/^REALTIME_MAX_MESSAGE_LENGTH=2000: the database now holds maxMessageLength 2000 for every caller \(was 10000\)/)]);
  });

  it("as the relay role, refuses with one line naming the CLI command, and changes nothing", async () => {
    const err = await withDb(
      (db) => applyConfiguredLimits(db, { limitsFromEnv: { maxMessageLength: 2000 } }, () => {}).then(() => null, (e: Error) => e),
      "realtime_relay",
    );

    expect(err).toBeInstanceOf(LimitsError);
    expect(err!.message).toMatch(/^REALTIME_MAX_MESSAGE_LENGTH=2000 but the database's maxMessageLength is 10000, and this role may not change it: run `npx realtime limits set maxMessageLength 2000`/);
    expect(err!.message).not.toContain("\n");
    expect((await ctx.db.v("select realtime_limits() as v")).maxMessageLength).toBe(10000);
  });
});
