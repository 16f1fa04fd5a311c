// Authentication over a real socket: which tokens open a connection, what a refused
// handshake says, where the user id comes from, live expiry and auth:refresh.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ack, ackError, ackOk, connect, connectError, expectNoEvent, nextEvent } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";

let relay: TestRelay;

beforeAll(async () => {
  // No clock tolerance, so a token with exp two seconds ahead really expires two seconds ahead.
  relay = await startRelay({ REALTIME_JWT_CLOCK_TOLERANCE: "0" });
});
afterAll(async () => {
  await relay?.dispose();
});

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

describe("handshake", () => {
  it("accepts a valid HS256 token and announces connected then authenticated", async () => {
    const user = uid("alice");
    const c = await connect(relay.url, token(user));
    expect(c.hello.socketId).toBe(c.id);
    expect(c.hello.protocolVersion).toBe(1);
    expect(Math.abs(Date.parse(c.hello.serverTime) - Date.now())).toBeLessThan(5000);
    expect(c.authInfo).toMatchObject({ userId: user, rooms: [], anonymous: false });
    expect(c.authInfo.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    // The session id is the connection row.
    const rows = await relay.db.q("select user_id, node_id from realtime_connections where id = $1 and disconnected_at is null", [
      c.authInfo.sessionId,
    ]);
    expect(rows).toEqual([{ user_id: user, node_id: relay.nodeId }]);
    c.disconnect();
  });

  it("refuses an expired token with TOKEN_EXPIRED", async () => {
    const err = await connectError(relay.url, token(uid(), { exp: Math.floor(Date.now() / 1000) - 60 }));
    expect(err.data.code).toBe("TOKEN_EXPIRED");
    expect(err.message).toMatch(/expired/i);
  });

  it("refuses a token signed with another secret with UNAUTHORIZED", async () => {
    const err = await connectError(relay.url, token(uid(), {}, { secret: "some-other-secret-0123456789" }));
    expect(err.data.code).toBe("UNAUTHORIZED");
  });

  it("refuses an unsigned alg:none token with UNAUTHORIZED", async () => {
    const payload = { sub: uid("mallory"), exp: Math.floor(Date.now() / 1000) + 3600 };
    const none = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(payload)}.`;
    const err = await connectError(relay.url, none);
    expect(err.data.code).toBe("UNAUTHORIZED");
    // Also with a signature part copied from a real token.
    const real = token(payload.sub);
    const forged = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(payload)}.${real.split(".")[2]}`;
    expect((await connectError(relay.url, forged)).data.code).toBe("UNAUTHORIZED");
  });

  it("refuses a token of a non-pinned algorithm (HS384 with the right secret)", async () => {
    const err = await connectError(relay.url, token(uid(), {}, { algorithm: "HS384" }));
    expect(err.data.code).toBe("UNAUTHORIZED");
  });

  it("refuses a token without exp with UNAUTHORIZED", async () => {
    const err = await connectError(relay.url, token(uid(), {}, { expiresIn: null }));
    expect(err.data.code).toBe("UNAUTHORIZED");
    expect(err.data.message).toMatch(/exp/);
  });

  it("refuses malformed tokens with UNAUTHORIZED", async () => {
    for (const bad of ["not-a-jwt", "a.b.c", "....", "x".repeat(9000)]) {
      const err = await connectError(relay.url, bad);
      expect(err.data.code, bad.slice(0, 20)).toBe("UNAUTHORIZED");
    }
    // A token that is not a string.
    expect((await connectError(relay.url, { token: 12345 })).data.code).toBe("UNAUTHORIZED");
    expect((await connectError(relay.url, { token: { sub: "x" } })).data.code).toBe("UNAUTHORIZED");
  });

  it("refuses a token naming no user", async () => {
    const err = await connectError(relay.url, token(null, { name: "nobody" }));
    expect(err.data.code).toBe("UNAUTHORIZED");
  });

  it("refuses a connection without a token when anonymous access is off", async () => {
    const err = await connectError(relay.url, null);
    expect(err.data.code).toBe("UNAUTHORIZED");
    expect((await connectError(relay.url, { token: "" })).data.code).toBe("UNAUTHORIZED");
  });

  it("takes the user id from the Hasura claims namespace", async () => {
    const user = uid("hasura");
    const t = token(null, {
      "https://hasura.io/jwt/claims": { "x-hasura-user-id": user, "x-hasura-default-role": "user", "x-hasura-allowed-roles": ["user"] },
    });
    const c = await connect(relay.url, t);
    expect(c.authInfo.userId).toBe(user);
    c.disconnect();
  });

  it("takes the user id from a userId claim", async () => {
    const user = uid("nself");
    const c = await connect(relay.url, token(null, { userId: user }));
    expect(c.authInfo.userId).toBe(user);
    c.disconnect();
  });

  it("prefers sub over userId", async () => {
    const user = uid("sub");
    const c = await connect(relay.url, token(user, { userId: "someone-else" }));
    expect(c.authInfo.userId).toBe(user);
    c.disconnect();
  });

  it("accepts an Authorization: Bearer header", async () => {
    const user = uid("bearer");
    const c = await connect(relay.url, null, { extraHeaders: { Authorization: `Bearer ${token(user)}` } });
    expect(c.authInfo.userId).toBe(user);
    c.disconnect();
    // Over long-polling first, then upgraded, as a browser-less client would.
    const p = await connect(relay.url, null, { transports: ["polling", "websocket"], extraHeaders: { authorization: `bearer ${token(user)}` } });
    expect(p.authInfo.userId).toBe(user);
    p.disconnect();
    // A bad header is refused like a bad token.
    const err = await connectError(relay.url, null, { extraHeaders: { Authorization: "Bearer nonsense" } });
    expect(err.data.code).toBe("UNAUTHORIZED");
  });
});

describe("live expiry and auth:refresh", () => {
  it("tells a connection whose token expires TOKEN_EXPIRED and disconnects it, unless it refreshed first", async () => {
    const user = uid("short");
    const exp = Math.floor(Date.now() / 1000) + 2;
    const stale = await connect(relay.url, token(user, { exp }));
    const refreshed = await connect(relay.url, token(user, { exp }));

    // The second device sends a fresh token before expiry.
    const fresh = token(user);
    const data = await ackOk(refreshed, "auth:refresh", { token: fresh });
    expect(data.userId).toBe(user);
    expect(data.exp).toBeGreaterThan(exp);

    const expired = nextEvent(stale, "error", (e: any) => e.code === "TOKEN_EXPIRED", 4000);
    const disconnected = nextEvent<string>(stale, "disconnect", () => true, 4000);
    const noError = expectNoEvent(refreshed, "error", exp * 1000 - Date.now() + 800);
    const noDisconnect = expectNoEvent(refreshed, "disconnect", exp * 1000 - Date.now() + 800);

    const e = await expired;
    expect(e.message).toMatch(/expired/i);
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 50);
    expect(await disconnected).toBe("io server disconnect");

    await noError;
    await noDisconnect;
    expect(refreshed.connected).toBe(true);
    expect((await ackOk(refreshed, "ping")).timestamp).toBeTypeOf("number");
    refreshed.disconnect();
  });

  it("refuses a token of another user, an invalid or expired token, and keeps the connection", async () => {
    const user = uid("refresh");
    const c = await connect(relay.url, token(user));
    const err = await ackError(c, "auth:refresh", "UNAUTHORIZED", { token: token(uid("other")) });
    expect(err.message).toMatch(/another user/);
    await ackError(c, "auth:refresh", "UNAUTHORIZED", { token: token(user, {}, { secret: "not-the-secret-0123456789" }) });
    await ackError(c, "auth:refresh", "UNAUTHORIZED", { token: "garbage" });
    await ackError(c, "auth:refresh", "BAD_REQUEST", {});
    await ackError(c, "auth:refresh", "TOKEN_EXPIRED", { token: token(user, { exp: Math.floor(Date.now() / 1000) - 60 }) });
    await ackError(c, "auth:refresh", "BAD_REQUEST", "just a string");
    // Still the same user, still connected.
    expect(c.connected).toBe(true);
    expect((await ack(c, "ping")).ok).toBe(true);
    c.disconnect();
  });
});
