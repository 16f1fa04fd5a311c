// Hostile payloads for every client event: property-based random payloads over socket.io-client
// (each answered ok or with a known, non-INTERNAL code; the database matches what the acks said),
// and over a raw websocket what a client library would not send: 10k-deep JSON, own __proto__
// keys, huge strings, lone surrogates and NUL escapes, numbers JSON cannot round-trip. After each
// kind the relay must be unharmed (see helpers/hostile.ts).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../protocol/index.js";
import { harness, type Harness } from "../helpers/hostile.js";
import { uid } from "../helpers/names.js";
import { RawSocket } from "../helpers/raw.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { type Ack, connect } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";
import { until } from "../helpers/wait.js";

const LOBBY = "payload-lobby";
const EVENTS = ["room:join", "room:leave", "message:send", "typing:start", "typing:stop", "presence:update", "presence:get", "auth:refresh", "ping"];
/** Codes a refusal may carry: every protocol code except INTERNAL (a bug), UNAVAILABLE and BUSY (the database is up and idle). */
const EXPECTED_CODES: string[] = ERROR_CODES.filter((c) => c !== "INTERNAL" && c !== "UNAVAILABLE" && c !== "BUSY");

let relay: TestRelay;
let h: Harness;

beforeAll(async () => {
  // Limits out of the way: this file is about what payloads do, not how many.
  relay = await startRelay({
    REALTIME_RATE_LIMIT: "100000",
    REALTIME_RATE_BURST: "100000",
    REALTIME_PRESENCE_RATE_LIMIT: "10000",
    REALTIME_TYPING_RATE_LIMIT: "10000",
  });
  h = await harness(relay, LOBBY);
});
afterAll(async () => {
  await relay?.dispose();
});

function expectKnown(answer: Ack | undefined, what: string): void {
  expect(answer, `${what}: no answer`).toBeDefined();
  if (answer!.ok) return;
  expect(EXPECTED_CODES, `${what}: ${answer!.error.code} ${answer!.error.message}`).toContain(answer!.error.code);
  expect(answer!.error.message.length, what).toBeGreaterThan(0);
}

/** An own enumerable key even when it is "__proto__" (plain assignment would set the prototype). */
function withOwnKey(base: object, key: string, value: unknown): Record<string, unknown> {
  const o: Record<string, unknown> = { ...base };
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  return o;
}

describe("random payloads for every event (fast-check, socket.io-client)", () => {
  const userId = uid("fuzz");
  const ownToken = token(userId);
  const str = fc.oneof(
    fc.string({ maxLength: 24 }),
    fc.string({ unit: "binary", maxLength: 24 }),
    fc.constantFrom(
      "", " ", "\u0000", "a\u0000b", "\ud800", "\udfff\ud800", "\u202eevil", "\ufeff", "\u0007", " padded ",
      "x".repeat(300), "😀".repeat(200), LOBBY, "general", "__proto__", "constructor", "prototype",
      "online", "away", "busy", "offline", "infinity", "2030-01-01T00:00:00Z", "294277-01-01", "not a date", ownToken, token(uid("other")),
    ),
  );
  const value: fc.Arbitrary<unknown> = fc.oneof(
    { weight: 4, arbitrary: str },
    fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -0, Number.MAX_SAFE_INTEGER + 2),
    fc.integer(),
    fc.double(),
    fc.jsonValue({ maxDepth: 3 }),
    fc.array(str, { maxLength: 5 }),
    fc.dictionary(fc.constantFrom("text", "emoji", "expiresAt", "x", "__proto__"), str, { maxKeys: 3 }),
  );
  const FIELDS = ["roomName", "content", "threadId", "metadata", "since", "status", "customStatus", "userIds", "token"];
  const fields = fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 5 });
  const payload: fc.Arbitrary<unknown> = fc.oneof(
    { weight: 5, arbitrary: fields },
    { weight: 1, arbitrary: fc.tuple(fields, fc.constantFrom("__proto__", "constructor", "prototype"), value).map(([b, k, v]) => withOwnKey(b, k, v)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );

  it("#39 answers random payloads of all nine events ok or with a known code, never INTERNAL, never hanging; the database matches the acks", async () => {
    await h.hostile(async () => {
      const c = await connect(relay.url, ownToken);
      const sid = c.id!;
      const joined = new Set<string>();
      let sent = 0;
      for (const event of EVENTS) {
        await fc.assert(
          fc.asyncProperty(payload, async (p) => {
            const args = p === undefined ? [] : [p];
            const answer = (await c.timeout(5000).emitWithAck(event, ...args)) as Ack;
            expectKnown(answer, `${event} ${JSON.stringify(p)?.slice(0, 120)}`);
            // The model of what the user now has, from the acks alone.
            if (answer.ok && event === "room:join") joined.add((p as { roomName: string }).roomName);
            if (answer.ok && event === "room:leave") joined.delete((p as { roomName: string }).roomName);
            if (answer.ok && event === "message:send") sent++;
          }),
          { numRuns: event === "ping" ? 30 : 120, seed: 8_2026 },
        );
      }
      expect(c.connected).toBe(true);
      const rooms = await relay.db.q<{ name: string }>(
        "select r.name from realtime_room_members m join realtime_rooms r on r.id = m.room_id where m.user_id = $1 and m.left_at is null",
        [userId],
      );
      expect(rooms.map((r) => r.name).sort()).toEqual([...joined].sort());
      expect(await relay.db.v<number>("select count(*)::int as v from realtime_events where type = 'message' and user_id = $1", [userId])).toBe(sent);
      // Leave what the valid payloads joined, then go: the snapshot must be as before.
      for (const roomName of joined) expect((await c.timeout(5000).emitWithAck("room:leave", { roomName })).ok).toBe(true);
      await relay.db.q("delete from realtime_events where type = 'message' and user_id = $1", [userId]);
      c.disconnect();
      await until(async () => (await h.rowOpen(sid)) === false);
      expect(await relay.db.v<number>("select count(*)::int as v from realtime_typing where user_id = $1", [userId])).toBe(0);
    });
  });
});

describe("payloads over a raw websocket", () => {
  /** Sends event `name` with a hand-written JSON argument list and returns the ack. */
  async function send(raw: RawSocket, name: string, argsJson: string): Promise<Ack | undefined> {
    const id = raw.takeAckId();
    return raw.rawAck<Ack>(`42${id}[${JSON.stringify(name)}${argsJson ? `,${argsJson}` : ""}]`, id, 5000);
  }

  /** Every place a payload can put a value: the payload itself and each field of each event. */
  function placements(v: string): [string, string][] {
    return [
      ...EVENTS.map((e): [string, string] => [e, v]),
      ["room:join", `{"roomName":${v}}`],
      ["room:join", `{"roomName":"${LOBBY}","since":${v}}`],
      ["room:leave", `{"roomName":${v}}`],
      ["message:send", `{"roomName":${v},"content":"hi"}`],
      ["message:send", `{"roomName":"${LOBBY}","content":${v}}`],
      ["message:send", `{"roomName":"${LOBBY}","content":"hi","threadId":${v}}`],
      ["message:send", `{"roomName":"${LOBBY}","content":"hi","metadata":${v}}`],
      ["typing:start", `{"roomName":${v}}`],
      ["typing:stop", `{"roomName":"${LOBBY}","threadId":${v}}`],
      ["presence:update", `{"status":${v}}`],
      ["presence:update", `{"status":"busy","customStatus":${v}}`],
      ["presence:update", `{"status":"busy","customStatus":{"text":${v}}}`],
      ["presence:get", `{"userIds":${v}}`],
      ["presence:get", `{"userIds":[${v}]}`],
      ["auth:refresh", `{"token":${v}}`],
    ];
  }

  /** Sends v in every placement on one socket; each answer ok or a known code. Answers the codes seen. */
  async function everywhere(v: string): Promise<Ack[]> {
    const raw = await h.rawClient();
    const answers: Ack[] = [];
    for (const [event, args] of placements(v)) {
      const answer = await send(raw, event, args);
      expectKnown(answer, `${event} ${args.slice(0, 100)}`);
      answers.push(answer!);
    }
    expect(raw.closed).toBe(false);
    raw.close();
    return answers;
  }

  it("#40 refuses JSON nested 10,000 levels deep (arrays and objects) in every event and field", async () => {
    await h.hostile(async () => {
      const depth = 10_000;
      for (const v of ["[".repeat(depth) + "]".repeat(depth), '{"a":'.repeat(depth) + "1" + "}".repeat(depth)]) {
        // Refused before validation or SQL, ping included: nothing this deep reaches a handler.
        for (const a of await everywhere(v)) expect(a).toMatchObject({ ok: false, error: { code: "BAD_REQUEST", message: /nested/ } });
      }
    });
  });

  it("#41 stores message metadata nested up to the depth limit and refuses one level more (BAD_REQUEST, not INTERNAL)", async () => {
    await h.hostile(async () => {
      const raw = await h.rawClient();
      expect((await send(raw, "room:join", `{"roomName":"${LOBBY}"}`))?.ok).toBe(true);
      // The payload is level 1 and metadata level 2: 30 more levels of arrays fit under 32.
      const nest = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
      const seen = new Promise<any>((resolve) => h.witness.once("message:new", resolve));
      const ok = await send(raw, "message:send", `{"roomName":"${LOBBY}","content":"deep","metadata":{"deep":${nest(30)}}}`);
      expect(ok?.ok).toBe(true);
      expect(JSON.stringify((await seen).metadata.deep)).toBe(nest(30));
      for (const levels of [31, 2500, 4000]) {
        const answer = await send(raw, "message:send", `{"roomName":"${LOBBY}","content":"deeper","metadata":{"deep":${nest(levels)}}}`);
        expect(answer, `${levels} levels`).toMatchObject({ ok: false, error: { code: "BAD_REQUEST", message: /nested/ } });
      }
      expect((await send(raw, "room:leave", `{"roomName":"${LOBBY}"}`))?.ok).toBe(true);
      await relay.db.q("delete from realtime_events where type = 'message' and data->>'content' = 'deep'");
      raw.close();
    });
  });

  it("#42 treats own __proto__ / constructor / prototype keys as data in every event, and pollutes nothing", async () => {
    await h.hostile(async () => {
      for (const key of ["__proto__", "constructor", "prototype"]) {
        const answers = await everywhere(`{"${key}":{"roomName":"${LOBBY}","status":"online","polluted":true,"toString":1}}`);
        expect(answers.filter((a) => a.ok).length).toBeGreaterThan(0); // ping, at least
      }
      // A valid message whose metadata carries them is delivered with the keys as plain data.
      const raw = await h.rawClient();
      expect((await send(raw, "room:join", `{"roomName":"${LOBBY}"}`))?.ok).toBe(true);
      const seen = new Promise<any>((resolve) => h.witness.once("message:new", resolve));
      const answer = await send(raw, "message:send", `{"roomName":"${LOBBY}","content":"proto","metadata":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}`);
      expect(answer?.ok).toBe(true);
      const message = await seen;
      expect(Object.keys(message.metadata).sort()).toEqual(["__proto__", "constructor"]);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted")).toBe(false);
      expect((await send(raw, "room:leave", `{"roomName":"${LOBBY}"}`))?.ok).toBe(true);
      await relay.db.q("delete from realtime_events where type = 'message' and data->>'content' = 'proto'");
      raw.close();
    });
  });

  it("#43 refuses huge strings (60,000 characters; 4-byte characters over the byte limit) in every field", async () => {
    await h.hostile(async () => {
      for (const v of [JSON.stringify("h".repeat(60_000)), JSON.stringify("😀".repeat(15_000))]) {
        const answers = await everywhere(v);
        for (const a of answers) if (!a.ok) expect(["BAD_REQUEST", "PAYLOAD_TOO_LARGE", "UNAUTHORIZED"]).toContain(a.error.code);
      }
    });
  });

  it("#44 answers lone surrogates, NUL and other odd escapes in every string field with known codes", async () => {
    await h.hostile(async () => {
      for (const v of ['"\\ud800"', '"\\udfff\\ud800x"', '"a\\u0000b"', '"\\u202e\\ufeff\\u200b"', '"\\uffff\\ufffe"', '"\\\\u0000"']) {
        await everywhere(v);
      }
    });
  });

  it("#45 keeps the event log writing after refusals whose text PostgreSQL cannot store (NUL, lone surrogate)", async () => {
    await h.hostile(async () => {
      const user = uid("unstorable");
      const raw = await h.rawClient(user);
      for (const key of ["\\u0000evil", "\\ud800evil"]) {
        const answer = await send(raw, "presence:update", `{"status":"busy","customStatus":{"${key}":1}}`);
        expect(answer).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
      }
      // Both refusals reach the event log, the characters jsonb refuses replaced by U+FFFD; the log
      // drains (unharmed() checks its buffer is empty afterwards).
      await relay.server.relay.eventLog.flush();
      const logged = await relay.db.q<{ message: string }>(
        "select data->>'message' as message from realtime_events where type = 'error' and user_id = $1 order by seq",
        [user],
      );
      expect(logged.map((r) => r.message)).toEqual([expect.stringContaining("\ufffdevil"), expect.stringContaining("\ufffdevil")]);
      raw.close();
    });
  });

  it("#46 connects a handshake whose device is nested 10,000 levels deep (device dropped), and refuses deep tokens UNAUTHORIZED", async () => {
    await h.hostile(async () => {
      const deep = "[".repeat(10_000) + "]".repeat(10_000);
      const ok = await RawSocket.open(relay.url);
      const connected = await ok.connectJson(`{"token":${JSON.stringify(token(uid("deepdevice")))},"device":{"d":${deep}},"extra":${deep}}`);
      expect(connected.error).toBeUndefined();
      const device = await relay.db.v<{ d?: unknown } | null>("select device as v from realtime_connections where socket_id = $1", [connected.sid]);
      expect(device?.d).toBeUndefined();
      expect(await h.rowOpen(connected.sid!)).toBe(true);
      ok.close();
      const refused = await RawSocket.open(relay.url);
      expect((await refused.connectJson(`{"token":${deep}}`)).error?.data?.code).toBe("UNAUTHORIZED");
      refused.close();
    });
  });

  it("#47 refuses numbers JSON cannot round-trip (1e400, -0, 2^53+1, 1e-400) where integers are expected", async () => {
    await h.hostile(async () => {
      const raw = await h.rawClient();
      for (const n of ["1e400", "-1e400", "9007199254740993", "1e-400", "-0.0", "0.1"]) {
        const answer = await send(raw, "room:join", `{"roomName":"${LOBBY}","since":${n}}`);
        expectKnown(answer, `since ${n}`);
        if (answer!.ok) expect((await send(raw, "room:leave", `{"roomName":"${LOBBY}"}`))?.ok).toBe(true);
        else expect(answer!.error.code).toBe("BAD_REQUEST");
      }
      const many = JSON.stringify({ userIds: Array.from({ length: 101 }, (_, i) => `u${i}`) });
      expect(await send(raw, "presence:get", many)).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
      raw.close();
    });
  });

  it("#48 answers events with no payload, extra arguments or an ack slot only, for every event", async () => {
    await h.hostile(async () => {
      const raw = await h.rawClient();
      for (const event of EVENTS) {
        for (const args of ["", "null,null,null", `{"roomName":"${LOBBY}"},1,"two",[3],{"four":4}`, "[],[],[]"]) {
          expectKnown(await send(raw, event, args), `${event} (${args})`);
        }
      }
      // Whatever the extra arguments did, leave the lobby again.
      expect((await send(raw, "room:leave", `{"roomName":"${LOBBY}"}`))?.ok).toBe(true);
      raw.close();
    });
  });
});
