// The relay checks payloads against the database's limits (realtime_limits()), not numbers of its
// own: a relay on a database whose maxMessageLength is 50 refuses 51 characters with the code a
// psql caller gets; a change made with realtime_set_limits while it runs reaches it within
// REALTIME_LIMITS_REFRESH; REALTIME_MAX_MESSAGE_LENGTH at start is written to the database and
// logged in one line, and stops a least-privilege relay's start with one line naming the command.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeError } from "../../cli/lib/errors.js";
import { LimitsError } from "../../lib/limits.js";
import { setupRelayRole } from "../../lib/sql/roles.js";
import { toRealtimeError } from "../../protocol/index.js";
import { runServer } from "../../relay/main.js";
import { createRoom, createTestDatabase, type TestDatabase, urlAs, withRoot as root } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ack, ackError, ackOk, connect, type Client } from "../helpers/sockets.js";
import { JWT_SECRET, token } from "../helpers/tokens.js";
import { until } from "../helpers/wait.js";

const REFRESH_MS = 200;

const setLimits = (db: TestDatabase, limits: Record<string, number>) =>
  db.v("select realtime_set_limits($1::jsonb) as v", [JSON.stringify(limits)]);
const dbLimits = (db: TestDatabase) => db.v<Record<string, unknown>>("select realtime_limits() as v");

describe("a relay on a database whose limits were changed with realtime_set_limits", () => {
  let db: TestDatabase;
  let relay: TestRelay;
  let c: Client;
  let room: string;
  let alice: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    await setLimits(db, { maxMessageLength: 50 });
    relay = await startRelay({ REALTIME_LIMITS_REFRESH: String(REFRESH_MS) }, { db });
    alice = uid("alice");
    room = await createRoom(db, uid("room"), "channel", "public", {}, alice);
    c = await connect(relay.url, token(alice));
    await ackOk(c, "room:join", { roomName: room });
  });
  afterAll(async () => {
    await relay?.dispose();
    await db?.drop();
  });

  it("refuses a 51-character message itself, with the code a psql caller gets, and accepts 50", async () => {
    const sqlError = await db.q("select realtime_send_message($1, $2, $3)", [room, alice, "x".repeat(51)]).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(sqlError?.code).toBe("RT400");

    const err = await ackError(c, "message:send", toRealtimeError(sqlError).code, { roomName: room, content: "x".repeat(51) });
    expect(err.code).toBe("BAD_REQUEST");
    // The relay's own check (the database words it "message content must be 1 to 50 characters").
    expect(err.message).toBe("content must be at most 50 characters");
    expect(err.details).toEqual({ field: "content", max: 50 });
    expect((await ackOk(c, "message:send", { roomName: room, content: "é".repeat(50) })).content).toHaveLength(50);
  });

  it("follows realtime_set_limits within REALTIME_LIMITS_REFRESH, raised and lowered", async () => {
    await setLimits(db, { maxMessageLength: 80 });
    const raisedAt = Date.now();
    await until(async () => (await ack(c, "message:send", { roomName: room, content: "r".repeat(70) })).ok, 5000, {
      stepMs: 50,
      what: "a 70-character message to be accepted",
    });
    expect(Date.now() - raisedAt).toBeLessThan(REFRESH_MS + 2000);

    // Lowered: the database refuses at once; the relay refuses by itself once it has re-read.
    await setLimits(db, { maxMessageLength: 30 });
    const refusal = await until(
      async () => {
        const a = await ack(c, "message:send", { roomName: room, content: "l".repeat(31) });
        return !a.ok && a.error.message === "content must be at most 30 characters" ? a.error : undefined;
      },
      5000,
      { stepMs: 50, what: "the relay's own refusal at 30 characters" },
    );
    expect(refusal?.code).toBe("BAD_REQUEST");
  });

  it("checks metadata and custom status against the database's limits too", async () => {
    await setLimits(db, { maxMessageMetadataBytes: 100, maxCustomStatusText: 5, maxCustomStatusEmoji: 2 });
    await until(
      async () => {
        const a = await ack(c, "message:send", { roomName: room, content: "m", metadata: { k: "z".repeat(200) } });
        return !a.ok && a.error.message === "metadata must be at most 100 bytes of JSON";
      },
      5000,
      { stepMs: 50, what: "the relay's own refusal of 200 bytes of metadata" },
    );
    const text = await ackError(c, "presence:update", "BAD_REQUEST", { status: "busy", customStatus: { text: "sixsix" } });
    expect(text.message).toBe("text must be at most 5 characters");
    const emoji = await ackError(c, "presence:update", "BAD_REQUEST", { status: "busy", customStatus: { emoji: "abc" } });
    expect(emoji.message).toBe("emoji must be at most 2 characters");
    const status = await ackError(c, "presence:update", "BAD_REQUEST", { status: "dancing" });
    expect(status.message).toBe(`status must be one of ${((await dbLimits(db)).statuses as string[]).join(", ")}`);
    expect(await ackOk(c, "presence:update", { status: "busy", customStatus: { text: "five5", emoji: "ok" } })).toMatchObject({
      status: "busy",
      customStatus: { text: "five5", emoji: "ok" },
    });
  });
});

describe("REALTIME_MAX_MESSAGE_LENGTH at start", () => {
  it("is written into the database by a relay whose role may, and logged in one line", async () => {
    const db = await createTestDatabase();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "realtime-limits-"));
    const logFile = path.join(dir, "relay.log");
    try {
      const server = await runServer({
        env: {
          DATABASE_URL: db.url,
          REALTIME_JWT_SECRET: JWT_SECRET,
          REALTIME_PORT: "0",
          REALTIME_HOST: "127.0.0.1",
          REALTIME_NODE_ID: `limits-${process.pid}`,
          REALTIME_DEMO: "false",
          REALTIME_MAX_MESSAGE_LENGTH: "500",
          LOG_LEVEL: "info",
          LOG_FORMAT: "json",
        },
        installSignalHandlers: false,
        logFile,
      });
      try {
        expect((await dbLimits(db)).maxMessageLength).toBe(500);
        const lines = fs
          .readFileSync(logFile, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l).msg as string)
          .filter((m) => m.includes("REALTIME_MAX_MESSAGE_LENGTH"));
        expect(lines).toEqual([expect.stringMatching(/^REALTIME_MAX_MESSAGE_LENGTH=500: the database now holds maxMessageLength 500 for every caller \(was 10000\)/)]);

        const owner = uid("owner");
        const room = await createRoom(db, uid("room"), "channel", "public", {}, owner);
        const c = await connect(server.url, token(owner));
        expect((await ackError(c, "message:send", "BAD_REQUEST", { roomName: room, content: "x".repeat(501) })).message).toBe(
          "content must be at most 500 characters",
        );
        expect((await ackOk(c, "message:send", { roomName: room, content: "x".repeat(500) })).content).toHaveLength(500);
        c.disconnect();
      } finally {
        await server.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await db.drop();
    }
  });

  describe("as the least-privilege relay role", () => {
    const suffix = `${process.pid}_${Math.random().toString(16).slice(2, 8)}`;
    const group = `rt_relay_group_limits_${suffix}`;
    const login = `rt_relay_limits_${suffix}`;
    let db: TestDatabase;

    beforeAll(async () => {
      db = await createTestDatabase();
      await setupRelayRole(db.url, { role: group, login, statementTimeoutMs: 30_000, idleTxTimeoutMs: 10_000 });
    });
    afterAll(async () => {
      await db?.drop(); // the only database where the group role holds privileges
      await root(async (c) => {
        await c.query(`drop role if exists ${login}`);
        await c.query(`drop role if exists ${group}`);
      });
    });

    it("stops start with one line naming `npx realtime limits set` when the value differs, and changes nothing", async () => {
      const err = await startRelay({ DATABASE_URL: urlAs(login, db.url), REALTIME_MAX_MESSAGE_LENGTH: "2000" }, { db }).then(
        async (r) => {
          await r.stop();
          return null;
        },
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(LimitsError);
      expect(err!.message).toMatch(
        /^REALTIME_MAX_MESSAGE_LENGTH=2000 but the database's maxMessageLength is 10000, and this role may not change it: run `npx realtime limits set maxMessageLength 2000` with the schema owner's DATABASE_URL, or unset REALTIME_MAX_MESSAGE_LENGTH$/,
      );
      expect(err!.message).not.toContain("\n");
      // What `realtime server start` prints.
      expect(describeError(err)).toEqual({ message: err!.message, exitCode: 1 });
      expect((await dbLimits(db)).maxMessageLength).toBe(10000);
    });

    it("starts when the value equals the database's", async () => {
      const relay = await startRelay({ DATABASE_URL: urlAs(login, db.url), REALTIME_MAX_MESSAGE_LENGTH: "10000" }, { db });
      try {
        expect((await fetch(`${relay.url}/health`)).status).toBe(200);
      } finally {
        await relay.stop();
      }
    });
  });
});
