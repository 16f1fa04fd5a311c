// Token attacks (issue 8, item 2), over real sockets against a real database. Every forged, stale
// or malformed token is refused with its code both at the handshake and through `auth:refresh` on a
// live connection; a refused refresh keeps the socket's identity and expiry; no refused token ever
// leaves a realtime_connections row. auth.test.ts covers the basic cases; this file adds the
// variants and the checks around them. Tokens are assembled by hand (not with jsonwebtoken) so the
// header, payload and signature can each be wrong in exactly one way.
import { createHmac, generateKeyPairSync, sign as cryptoSign, type KeyObject } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config.js";
import { roomKey } from "../../relay/sockets.js";
import { createRoom } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ackError, ackOk, type Client, connect, connectError, expectNoEvent, nextEvent } from "../helpers/sockets.js";
import { JWT_SECRET } from "../helpers/tokens.js";
import { until } from "../helpers/wait.js";

const AUD = "realtime-token-tests";
const ISS = "https://issuer.token-tests.example";
const TOLERANCE = 2; // seconds; small so the tolerance edges are testable quickly

let hs: TestRelay; // HS256 with JWT_SECRET, audience and issuer configured, default REQUIRE_EXP
let rs: TestRelay; // RS256 with a public key only, same database
let jwks: http.Server; // stands in for an attacker's key server: must never be asked
let jwksHits = 0;
let jwksUrl: string;

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const attacker = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const publicPem = rsa.publicKey.export({ type: "spki", format: "pem" }) as string;

/** Users that were meant to be accepted; no other user may ever get a connection row. */
const accepted = new Set<string>();

beforeAll(async () => {
  jwks = http.createServer((_req, res) => {
    jwksHits += 1;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [attacker.publicKey.export({ format: "jwk" })] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
  jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;

  const common = { REALTIME_RATE_LIMIT: "1000", REALTIME_RATE_BURST: "1000", REALTIME_JWT_CLOCK_TOLERANCE: String(TOLERANCE) };
  hs = await startRelay({ ...common, REALTIME_JWT_AUDIENCE: AUD, REALTIME_JWT_ISSUER: ISS });
  rs = await startRelay({ ...common, REALTIME_JWT_SECRET: undefined, REALTIME_JWT_PUBLIC_KEY: publicPem }, { db: hs.db });
});
afterAll(async () => {
  await rs?.dispose();
  await hs?.dispose();
  await new Promise((resolve) => jwks?.close(resolve));
});

// ---- token forging ------------------------------------------------------------------------

const now = () => Math.floor(Date.now() / 1000);
/** A string is raw text to encode as is (for JSON that is not an object, or not JSON at all). */
const seg = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
type Signer = (signingInput: string) => string;
const hmac =
  (key: string | Buffer, hash = "sha256"): Signer =>
  (input) =>
    createHmac(hash, key).update(input).digest("base64url");
const rsaSign =
  (key: KeyObject, hash = "sha256", padding?: number): Signer =>
  (input) =>
    cryptoSign(hash, Buffer.from(input), padding === undefined ? key : { key, padding }).toString("base64url");
const ecSign =
  (key: KeyObject): Signer =>
  (input) =>
    cryptoSign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" }).toString("base64url");

function forge(header: unknown, payload: unknown, signer?: Signer): string {
  const input = `${seg(header)}.${seg(payload)}`;
  return `${input}.${signer ? signer(input) : ""}`;
}

/** Claims the HS relay accepts, for user; extra overrides (undefined removes a claim). */
function claims(user: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const c: Record<string, unknown> = { sub: user, exp: now() + 3600, aud: AUD, iss: ISS, ...extra };
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c;
}
const hsToken = (user: string, extra: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
  forge({ alg: "HS256", typ: "JWT", ...header }, claims(user, extra), hmac(JWT_SECRET));
/** Claims the RS relay accepts (no audience or issuer configured there). */
const rsClaims = (user: string) => ({ sub: user, exp: now() + 3600 });
const rsToken = (user: string, header: Record<string, unknown> = {}) =>
  forge({ alg: "RS256", typ: "JWT", ...header }, rsClaims(user), rsaSign(rsa.privateKey));

// ---- checks ---------------------------------------------------------------------------------

const rowsOf = (user: string) => hs.db.v<number>("select count(*)::int as v from realtime_connections where user_id = $1", [user]);

async function expectRefusedHandshake(relay: TestRelay, auth: Record<string, unknown>, code: string, user: string | undefined) {
  const err = await connectError(relay.url, auth);
  expect(err.data?.code, JSON.stringify(err)).toBe(code);
  expect(typeof err.data.message).toBe("string");
  if (user !== undefined) expect(await rowsOf(user)).toBe(0);
}

/** A live socket of one user, joined to a public room, for refresh attacks. */
interface Victim {
  user: string;
  socket: Client;
  room: string;
  relayOf: TestRelay;
}

async function victim(relay: TestRelay, tokenFor: (user: string) => string): Promise<Victim> {
  const user = uid("victim");
  accepted.add(user);
  const socket = await connect(relay.url, tokenFor(user));
  const room = await createRoom(hs.db, uid("tokens-room"));
  await ackOk(socket, "room:join", { roomName: room });
  return { user, socket, room, relayOf: relay };
}

/** The refused refresh left the socket connected, as the same user, with no new connection row. */
async function expectIdentityKept(v: Victim) {
  expect(v.socket.connected).toBe(true);
  const message = await ackOk(v.socket, "message:send", { roomName: v.room, content: "still me" });
  expect(message.userId).toBe(v.user);
  const socketData = (v.relayOf.server.relay.io.of("/").sockets.get(v.socket.id!) as any)?.data;
  expect(socketData?.identity.userId).toBe(v.user);
  expect(await rowsOf(v.user)).toBe(1);
}

// ---- the attacks ----------------------------------------------------------------------------

interface Attack {
  name: string;
  relay: "hs" | "rs";
  /** The token for user (any type: non-strings are attacks too). */
  make: (user: string) => unknown;
  code: "UNAUTHORIZED" | "TOKEN_EXPIRED";
  /** When auth:refresh answers differently (payload validation comes before verification). */
  refreshCode?: string;
}

const NONE_SPELLINGS = ["none", "None", "NONE", "nOnE"];
const attacks: Attack[] = [
  // alg none, every spelling, with no signature, an empty one, and a real token's signature.
  ...NONE_SPELLINGS.flatMap((alg): Attack[] => [
    { name: `alg ${alg}, no signature`, relay: "hs", make: (u) => forge({ alg, typ: "JWT" }, claims(u)), code: "UNAUTHORIZED" },
    {
      name: `alg ${alg}, no signature part at all`,
      relay: "hs",
      make: (u) => forge({ alg, typ: "JWT" }, claims(u)).slice(0, -1),
      code: "UNAUTHORIZED",
    },
    {
      name: `alg ${alg}, HS256 signature of the same claims`,
      relay: "hs",
      make: (u) => {
        const c = claims(u);
        return `${seg({ alg, typ: "JWT" })}.${seg(c)}.${forge({ alg: "HS256", typ: "JWT" }, c, hmac(JWT_SECRET)).split(".")[2]}`;
      },
      code: "UNAUTHORIZED",
    },
    { name: `alg ${alg} on the RS256 relay`, relay: "rs", make: (u) => forge({ alg, typ: "JWT" }, rsClaims(u)), code: "UNAUTHORIZED" },
  ]),

  // Algorithm confusion: the RS256 relay's public key used as an HMAC secret, in every form an
  // attacker might try.
  ...(["sha256", "sha384", "sha512"] as const).map((hash): Attack => ({
    name: `HS${hash.slice(3)} signed with the RS public key PEM`,
    relay: "rs",
    make: (u) => forge({ alg: `HS${hash.slice(3)}`, typ: "JWT" }, rsClaims(u), hmac(publicPem, hash)),
    code: "UNAUTHORIZED",
  })),
  { name: "HS256 signed with the PEM without its final newline", relay: "rs", make: (u) => forge({ alg: "HS256" }, rsClaims(u), hmac(publicPem.trim())), code: "UNAUTHORIZED" },
  {
    name: "HS256 signed with the public key as DER",
    relay: "rs",
    make: (u) => forge({ alg: "HS256" }, rsClaims(u), hmac(rsa.publicKey.export({ type: "spki", format: "der" }))),
    code: "UNAUTHORIZED",
  },
  {
    name: "HS256 signed with the public key as a PKCS#1 PEM",
    relay: "rs",
    make: (u) => forge({ alg: "HS256" }, rsClaims(u), hmac(rsa.publicKey.export({ type: "pkcs1", format: "pem" }) as string)),
    code: "UNAUTHORIZED",
  },
  { name: "RS256 signed with another private key", relay: "rs", make: (u) => forge({ alg: "RS256" }, rsClaims(u), rsaSign(attacker.privateKey)), code: "UNAUTHORIZED" },
  { name: "RS512 with the right key (not a pinned algorithm)", relay: "rs", make: (u) => forge({ alg: "RS512" }, rsClaims(u), rsaSign(rsa.privateKey, "sha512")), code: "UNAUTHORIZED" },
  { name: "PS256 with the right key (not a pinned algorithm)", relay: "rs", make: (u) => forge({ alg: "PS256" }, rsClaims(u), rsaSign(rsa.privateKey, "sha256", 6)), code: "UNAUTHORIZED" },
  { name: "ES256 with an EC key", relay: "rs", make: (u) => forge({ alg: "ES256" }, rsClaims(u), ecSign(ec.privateKey)), code: "UNAUTHORIZED" },
  { name: "RS256 token on the HS256 relay", relay: "hs", make: (u) => forge({ alg: "RS256", typ: "JWT" }, claims(u), rsaSign(rsa.privateKey)), code: "UNAUTHORIZED" },
  { name: "HS512 with the right secret (not a pinned algorithm)", relay: "hs", make: (u) => forge({ alg: "HS512" }, claims(u), hmac(JWT_SECRET, "sha512")), code: "UNAUTHORIZED" },
  { name: "alg hs256 in lower case", relay: "hs", make: (u) => forge({ alg: "hs256" }, claims(u), hmac(JWT_SECRET)), code: "UNAUTHORIZED" },

  // Key-locating headers pointing at the attacker's key are ignored: the configured key verifies.
  {
    name: "RS256 by the attacker with jwk, jku, x5u and kid naming the attacker's key",
    relay: "rs",
    make: (u) =>
      forge(
        { alg: "RS256", typ: "JWT", kid: "attacker", jku: jwksUrl, x5u: jwksUrl, jwk: attacker.publicKey.export({ format: "jwk" }) },
        rsClaims(u),
        rsaSign(attacker.privateKey),
      ),
    code: "UNAUTHORIZED",
  },
  {
    name: "HS256 with an empty key and kid pointing at /dev/null",
    relay: "hs",
    make: (u) => forge({ alg: "HS256", kid: "../../../../../../dev/null" }, claims(u), hmac("")),
    code: "UNAUTHORIZED",
  },
  {
    name: "HS256 with kid carrying SQL that would select a known key",
    relay: "hs",
    make: (u) => forge({ alg: "HS256", kid: "x' union select 'attacker-key' --" }, claims(u), hmac("attacker-key")),
    code: "UNAUTHORIZED",
  },

  // Wrong secret, stripped or transplanted signatures, tampered payloads.
  { name: "secret with one character appended", relay: "hs", make: (u) => forge({ alg: "HS256" }, claims(u), hmac(JWT_SECRET + "x")), code: "UNAUTHORIZED" },
  { name: "first 16 characters of the secret", relay: "hs", make: (u) => forge({ alg: "HS256" }, claims(u), hmac(JWT_SECRET.slice(0, 16))), code: "UNAUTHORIZED" },
  { name: "empty secret", relay: "hs", make: (u) => forge({ alg: "HS256" }, claims(u), hmac("")), code: "UNAUTHORIZED" },
  { name: "HS256 header with the signature removed", relay: "hs", make: (u) => forge({ alg: "HS256" }, claims(u)), code: "UNAUTHORIZED" },
  {
    name: "signature of another valid token",
    relay: "hs",
    make: (u) => `${hsToken(u).split(".").slice(0, 2).join(".")}.${hsToken(uid("other")).split(".")[2]}`,
    code: "UNAUTHORIZED",
  },
  {
    name: "payload swapped into another user's signed token",
    relay: "hs",
    make: (u) => {
      const [h, , s] = hsToken(uid("other")).split(".");
      return `${h}.${seg(claims(u))}.${s}`;
    },
    code: "UNAUTHORIZED",
  },
  {
    name: "signature in standard base64 with padding",
    relay: "hs",
    make: (u) => {
      const [h, p, s] = hsToken(u).split(".");
      return `${h}.${p}.${Buffer.from(s, "base64url").toString("base64")}`;
    },
    code: "UNAUTHORIZED",
  },

  // Time claims (tolerance TOLERANCE seconds).
  { name: `expired ${TOLERANCE + 8} s ago`, relay: "hs", make: (u) => hsToken(u, { exp: now() - TOLERANCE - 8 }), code: "TOKEN_EXPIRED" },
  { name: "expired a day ago", relay: "hs", make: (u) => hsToken(u, { exp: now() - 86_400 }), code: "TOKEN_EXPIRED" },
  { name: "expired RS256 token", relay: "rs", make: (u) => forge({ alg: "RS256" }, { sub: u, exp: now() - 60 }, rsaSign(rsa.privateKey)), code: "TOKEN_EXPIRED" },
  { name: "nbf a minute ahead", relay: "hs", make: (u) => hsToken(u, { nbf: now() + 60 }), code: "UNAUTHORIZED" },
  { name: `nbf ${TOLERANCE + 8} s ahead`, relay: "hs", make: (u) => hsToken(u, { nbf: now() + TOLERANCE + 8 }), code: "UNAUTHORIZED" },
  { name: "exp missing (required by default)", relay: "hs", make: (u) => hsToken(u, { exp: undefined }), code: "UNAUTHORIZED" },
  { name: "exp missing on the RS256 relay", relay: "rs", make: (u) => forge({ alg: "RS256" }, { sub: u }, rsaSign(rsa.privateKey)), code: "UNAUTHORIZED" },
  { name: "exp as a string", relay: "hs", make: (u) => hsToken(u, { exp: String(now() + 3600) }), code: "UNAUTHORIZED" },
  { name: "exp null", relay: "hs", make: (u) => hsToken(u, { exp: null }), code: "UNAUTHORIZED" },
  { name: "nbf as a string", relay: "hs", make: (u) => hsToken(u, { nbf: "0" }), code: "UNAUTHORIZED" },

  // Audience and issuer (configured on the HS relay).
  { name: "audience missing", relay: "hs", make: (u) => hsToken(u, { aud: undefined }), code: "UNAUTHORIZED" },
  { name: "wrong audience", relay: "hs", make: (u) => hsToken(u, { aud: "another-service" }), code: "UNAUTHORIZED" },
  { name: "audience list without ours", relay: "hs", make: (u) => hsToken(u, { aud: ["a", "b", `${AUD}-staging`] }), code: "UNAUTHORIZED" },
  { name: "audience differing in case", relay: "hs", make: (u) => hsToken(u, { aud: AUD.toUpperCase() }), code: "UNAUTHORIZED" },
  { name: "issuer missing", relay: "hs", make: (u) => hsToken(u, { iss: undefined }), code: "UNAUTHORIZED" },
  { name: "wrong issuer", relay: "hs", make: (u) => hsToken(u, { iss: "https://evil.example" }), code: "UNAUTHORIZED" },
  { name: "issuer with a trailing slash", relay: "hs", make: (u) => hsToken(u, { iss: `${ISS}/` }), code: "UNAUTHORIZED" },
  { name: "issuer as a list", relay: "hs", make: (u) => hsToken(u, { iss: [ISS] }), code: "UNAUTHORIZED" },

  // Malformed tokens.
  { name: "one part", relay: "hs", make: (u) => seg(claims(u)), code: "UNAUTHORIZED" },
  { name: "two parts", relay: "hs", make: (u) => hsToken(u).split(".").slice(0, 2).join("."), code: "UNAUTHORIZED" },
  { name: "four parts", relay: "hs", make: (u) => `${hsToken(u)}.${seg("x")}`, code: "UNAUTHORIZED" },
  { name: "five parts, JWE-shaped", relay: "hs", make: (u) => `${seg({ alg: "dir", enc: "A256GCM" })}..${seg("iv")}.${seg(claims(u))}.${seg("tag")}`, code: "UNAUTHORIZED" },
  { name: "header not base64url", relay: "hs", make: (u) => `%%%.${seg(claims(u))}.${seg("sig")}`, code: "UNAUTHORIZED" },
  {
    name: "signature not base64url",
    relay: "hs",
    make: (u) => `${hsToken(u).split(".").slice(0, 2).join(".")}.!!!*`,
    code: "UNAUTHORIZED",
  },
  { name: "header JSON is an array", relay: "hs", make: (u) => forge(["HS256"], claims(u), hmac(JWT_SECRET)), code: "UNAUTHORIZED" },
  { name: "header JSON is a string", relay: "hs", make: (u) => forge('"HS256"', claims(u), hmac(JWT_SECRET)), code: "UNAUTHORIZED" },
  { name: "header JSON is a number", relay: "hs", make: (u) => forge("256", claims(u), hmac(JWT_SECRET)), code: "UNAUTHORIZED" },
  { name: "header JSON is null", relay: "hs", make: (u) => forge("null", claims(u), hmac(JWT_SECRET)), code: "UNAUTHORIZED" },
  { name: "header not JSON", relay: "hs", make: (u) => forge("{alg:HS256", claims(u), hmac(JWT_SECRET)), code: "UNAUTHORIZED" },
  { name: "header without alg", relay: "hs", make: (u) => forge({ typ: "JWT" }, claims(u), hmac(JWT_SECRET)), code: "UNAUTHORIZED" },
  { name: "alg as a number", relay: "hs", make: (u) => forge({ alg: 256 }, claims(u), hmac(JWT_SECRET)), code: "UNAUTHORIZED" },
  { name: "alg as a list", relay: "hs", make: (u) => forge({ alg: ["HS256"] }, claims(u), hmac(JWT_SECRET)), code: "UNAUTHORIZED" },
  // Signed payloads that are not claim objects, on the relay without audience or issuer so the
  // shape itself is what is refused.
  { name: "signed payload JSON is an array", relay: "rs", make: (u) => forge({ alg: "RS256" }, [rsClaims(u)], rsaSign(rsa.privateKey)), code: "UNAUTHORIZED" },
  { name: "signed payload JSON is a string", relay: "rs", make: (u) => forge({ alg: "RS256" }, JSON.stringify(u), rsaSign(rsa.privateKey)), code: "UNAUTHORIZED" },
  { name: "signed payload JSON is a number", relay: "rs", make: () => forge({ alg: "RS256" }, "12345", rsaSign(rsa.privateKey)), code: "UNAUTHORIZED" },
  { name: "signed payload JSON is null", relay: "rs", make: () => forge({ alg: "RS256" }, "null", rsaSign(rsa.privateKey)), code: "UNAUTHORIZED" },
  { name: "signed payload JSON is true", relay: "rs", make: () => forge({ alg: "RS256" }, "true", rsaSign(rsa.privateKey)), code: "UNAUTHORIZED" },
  { name: "signed payload not JSON", relay: "rs", make: (u) => forge({ alg: "RS256" }, `sub=${u}`, rsaSign(rsa.privateKey)), code: "UNAUTHORIZED" },
  { name: "whitespace inside the token", relay: "hs", make: (u) => hsToken(u).replace(".", " ."), code: "UNAUTHORIZED" },

  // Oversized: refused before any parsing. Over the event payload limit (64 kB), auth:refresh is
  // refused as a whole; between the token cap (8192) and that limit, by payload validation.
  { name: "100 kB token", relay: "hs", make: () => "a".repeat(100 * 1024), code: "UNAUTHORIZED", refreshCode: "PAYLOAD_TOO_LARGE" },
  {
    name: "validly signed 10 kB token (claim padding)",
    relay: "hs",
    make: (u) => hsToken(u, { pad: "p".repeat(10_000) }),
    code: "UNAUTHORIZED",
    refreshCode: "BAD_REQUEST",
  },

  // Not a string: the handshake refuses it; auth:refresh rejects the payload shape.
  { name: "token as a number", relay: "hs", make: () => 12345, code: "UNAUTHORIZED", refreshCode: "BAD_REQUEST" },
  { name: "token as an object of claims", relay: "hs", make: (u) => claims(u), code: "UNAUTHORIZED", refreshCode: "BAD_REQUEST" },
  { name: "token as an array of its parts", relay: "hs", make: (u) => hsToken(u).split("."), code: "UNAUTHORIZED", refreshCode: "BAD_REQUEST" },
  { name: "token as true", relay: "hs", make: () => true, code: "UNAUTHORIZED", refreshCode: "BAD_REQUEST" },

  // Hostile user ids in a validly signed token.
  { name: "user id with a newline", relay: "hs", make: (u) => hsToken(`${u}\nadmin`), code: "UNAUTHORIZED" },
  { name: "user id with NUL", relay: "hs", make: (u) => hsToken(`${u}\u0000`), code: "UNAUTHORIZED" },
  { name: "user id with an ANSI escape", relay: "hs", make: (u) => hsToken(`\u001b[31m${u}`), code: "UNAUTHORIZED" },
  { name: "user id with DEL", relay: "hs", make: (u) => hsToken(`${u}\u007f`), code: "UNAUTHORIZED" },
  { name: "user id of 256 characters", relay: "hs", make: (u) => hsToken(u.padEnd(256, "x")), code: "UNAUTHORIZED" },
  // 10k characters also exceed the 8192-character token cap: the token is refused before decoding.
  { name: "user id of 10,000 characters", relay: "hs", make: (u) => hsToken(u.padEnd(10_000, "x")), code: "UNAUTHORIZED", refreshCode: "BAD_REQUEST" },
  { name: "userId claim with control characters and no sub", relay: "hs", make: (u) => hsToken(u, { sub: undefined, userId: `${u}\r\n` }), code: "UNAUTHORIZED" },
  { name: "sub as an object and no other user claim", relay: "hs", make: (u) => hsToken(u, { sub: { id: u } }), code: "UNAUTHORIZED" },
  { name: "sub empty and no other user claim", relay: "hs", make: (u) => hsToken(u, { sub: "" }), code: "UNAUTHORIZED" },
];

describe("refused at the handshake", () => {
  it.each(attacks.map((a) => [a.name, a] as const))("%s", async (_name, attack) => {
    const relay = attack.relay === "hs" ? hs : rs;
    const user = uid("mallory");
    await expectRefusedHandshake(relay, { token: attack.make(user) }, attack.code, user);
  });

  it("the same forged tokens in an Authorization: Bearer header", async () => {
    // A sample: the header path must verify exactly like auth.token.
    for (const attack of attacks.filter((a) => /alg none|public key PEM|expired a day|wrong audience|header without alg/.test(a.name))) {
      const relay = attack.relay === "hs" ? hs : rs;
      const user = uid("bearer");
      const err = await connectError(relay.url, null, { extraHeaders: { Authorization: `Bearer ${attack.make(user) as string}` } });
      expect(err.data.code, attack.name).toBe(attack.code);
      expect(await rowsOf(user)).toBe(0);
    }
  });
});

describe("a relay that allows anonymous access does not downgrade a bad token to anonymous", () => {
  let anon: TestRelay;
  beforeAll(async () => {
    anon = await startRelay({ REALTIME_ALLOW_ANONYMOUS: "true", REALTIME_JWT_AUDIENCE: AUD, REALTIME_JWT_ISSUER: ISS }, { db: hs.db });
  });
  afterAll(async () => {
    await anon?.dispose();
  });

  it("refuses every HS256-relay attack with its code, and opens no anonymous connection either", async () => {
    const before = await hs.db.v<number>("select count(*)::int as v from realtime_connections where node_id = $1", [anon.nodeId]);
    for (const attack of attacks.filter((a) => a.relay === "hs")) {
      const user = uid("anon-mallory");
      const err = await connectError(anon.url, { token: attack.make(user) });
      expect(err.data?.code, attack.name).toBe(attack.code);
      expect(await rowsOf(user)).toBe(0);
    }
    expect(await hs.db.v<number>("select count(*)::int as v from realtime_connections where node_id = $1", [anon.nodeId])).toBe(before);
    // Without a token it is anonymous, as configured.
    const guest = await connect(anon.url, null);
    expect(guest.authInfo.anonymous).toBe(true);
    guest.disconnect();
  });
});

describe("refused by auth:refresh on a live connection, which keeps its identity", () => {
  let onHs: Victim;
  let onRs: Victim;
  beforeAll(async () => {
    onHs = await victim(hs, (u) => hsToken(u));
    onRs = await victim(rs, (u) => rsToken(u));
  });
  afterAll(() => {
    onHs?.socket.disconnect();
    onRs?.socket.disconnect();
  });

  it.each(attacks.map((a) => [a.name, a] as const))("%s", async (_name, attack) => {
    const v = attack.relay === "hs" ? onHs : onRs;
    // The forged token names the victim: a refresh to the same user must still verify.
    await ackError(v.socket, "auth:refresh", attack.refreshCode ?? attack.code, { token: attack.make(v.user) });
    await expectIdentityKept(v);
  });
});

describe("accepted tokens (the refusals above are not the relay refusing everything)", () => {
  it("defaults: exp is required and the clock tolerance is 5 s", () => {
    const config = loadConfig({ REALTIME_JWT_SECRET: JWT_SECRET });
    expect(config.jwtRequireExp).toBe(true);
    expect(config.jwtClockToleranceSec).toBe(5);
    expect(config.jwtAlgorithms).toEqual(["HS256"]);
    expect(loadConfig({ REALTIME_JWT_PUBLIC_KEY: publicPem }).jwtAlgorithms).toEqual(["RS256"]);
  });

  it.each([
    ["right audience and issuer", (u: string) => hsToken(u)],
    ["audience list containing ours", (u: string) => hsToken(u, { aud: ["other", AUD] })],
    [`exp ${TOLERANCE - 1} s ago, within the clock tolerance`, (u: string) => hsToken(u, { exp: now() - (TOLERANCE - 1) })],
    [`nbf ${TOLERANCE - 1} s ahead, within the clock tolerance`, (u: string) => hsToken(u, { nbf: now() + TOLERANCE - 1 })],
    ["kid, jku and x5u headers on a correctly signed token (ignored)", (u: string) => hsToken(u, {}, { kid: "../../dev/null", jku: jwksUrl, x5u: jwksUrl })],
    ["a user id of 255 characters", (u: string) => hsToken(u.padEnd(255, "y"))],
  ])("HS256 relay: %s", async (_name, make) => {
    const user = uid("ok");
    const t = make(user);
    const expected = (JSON.parse(Buffer.from(t.split(".")[1], "base64url").toString()) as { sub: string }).sub;
    accepted.add(expected);
    const c = await connect(hs.url, t);
    expect(c.authInfo.userId).toBe(expected);
    expect(await rowsOf(expected)).toBe(1);
    c.disconnect();
  });

  it("RS256 relay: a token signed with the private key, also with key-locating headers", async () => {
    for (const header of [{}, { kid: "anything", jku: jwksUrl, x5u: jwksUrl }]) {
      const user = uid("rs-ok");
      accepted.add(user);
      const c = await connect(rs.url, rsToken(user, header));
      expect(c.authInfo.userId).toBe(user);
      c.disconnect();
    }
  });

  it("no key URL from a token header was ever fetched", () => {
    expect(jwksHits).toBe(0);
  });
});

describe("live connections", () => {
  it("after TOKEN_EXPIRED the connection row is closed, the socket leaves its rooms and gets no more messages", async () => {
    const room = await createRoom(hs.db, uid("expiry-room"));
    const user = uid("expiring");
    const peer = uid("peer");
    accepted.add(user).add(peer);
    // Both are members before connecting, so the sockets are in the room from the handshake and the
    // waiters exist before the expiry can fire, however slow the machine.
    await hs.db.q("select realtime_add_member($1, $2), realtime_add_member($1, $3)", [room, user, peer]);
    const p = await connect(hs.url, hsToken(peer));
    const exp = now() + 1; // fires at exp + TOLERANCE, 2 to 3 s from now
    const s = await connect(hs.url, hsToken(user, { exp }));
    const expired = nextEvent(s, "error", (e: { code: string }) => e.code === "TOKEN_EXPIRED", 8000);
    const disconnected = nextEvent<string>(s, "disconnect", () => true, 8000);
    expect(s.authInfo.rooms).toEqual([room]);
    const socketId = s.id!;
    expect((await hs.server.relay.io.in(roomKey(room)).fetchSockets()).map((x) => x.id)).toContain(socketId);
    await expired;
    expect(Date.now()).toBeGreaterThanOrEqual((exp + TOLERANCE) * 1000 - 50);
    expect(await disconnected).toBe("io server disconnect");

    await until(async () => {
      const rows = await hs.db.q("select disconnected_at from realtime_connections where socket_id = $1", [socketId]);
      return rows.length === 1 && rows[0].disconnected_at !== null;
    });
    expect(await hs.db.v("select count(*)::int as v from realtime_connections where user_id = $1 and disconnected_at is null", [user])).toBe(0);
    // The relay no longer holds the socket in the room: a message reaches the peer only.
    const inRoom = (await hs.server.relay.io.in(roomKey(room)).fetchSockets()).map((x) => x.id);
    expect(inRoom).not.toContain(socketId);
    const noMessage = expectNoEvent(s, "message:new", 300);
    await ackOk(p, "message:send", { roomName: room, content: "after expiry" });
    await noMessage;
    // The same token cannot come back.
    expect((await connectError(hs.url, hsToken(user, { exp }))).data.code).toBe("TOKEN_EXPIRED");
    p.disconnect();
  });

  it("refused refreshes (forged, another user's, expired) do not postpone the original expiry", async () => {
    const user = uid("keeps-exp");
    accepted.add(user);
    const exp = now() + 2;
    const s = await connect(hs.url, hsToken(user, { exp }));
    const other = uid("other-user");
    await ackError(s, "auth:refresh", "UNAUTHORIZED", { token: hsToken(other, { exp: now() + 3600 }) });
    await ackError(s, "auth:refresh", "UNAUTHORIZED", { token: forge({ alg: "none" }, claims(user, { exp: now() + 3600 })) });
    await ackError(s, "auth:refresh", "TOKEN_EXPIRED", { token: hsToken(user, { exp: now() - 60 }) });
    await ackError(s, "auth:refresh", "UNAUTHORIZED", { token: hsToken(user, { aud: "elsewhere", exp: now() + 3600 }) });
    // Created after the refused refreshes: the expired-token refusal above is a TOKEN_EXPIRED error too.
    const expired = nextEvent(s, "error", (e: { code: string }) => e.code === "TOKEN_EXPIRED", 8000);
    const disconnected = nextEvent<string>(s, "disconnect", () => true, 8000);
    await expired;
    expect(await disconnected).toBe("io server disconnect");
    // Fired at the original exp plus tolerance, not later.
    expect(Date.now()).toBeGreaterThanOrEqual((exp + TOLERANCE) * 1000 - 50);
    // A refused refresh that had been taken would have postponed it by an hour.
    expect(Date.now()).toBeLessThan((exp + TOLERANCE) * 1000 + 5000);
    expect(await rowsOf(other)).toBe(0);
  });

  it("auth:refresh with another user's valid token: refused, and the socket keeps its user, rooms and rights", async () => {
    const owner = uid("owner");
    const intruder = uid("intruder");
    accepted.add(intruder);
    const secret = await createRoom(hs.db, uid("owners-room"), "group", "private", {}, owner);
    const dm = await hs.db.v("select realtime_open_dm($1, $2) as v", [owner, uid("friend")]);
    const s = await connect(hs.url, hsToken(intruder));

    const err = await ackError(s, "auth:refresh", "UNAUTHORIZED", { token: hsToken(owner) });
    expect(err.message).toMatch(/another user/);
    // Also with the owner's token carrying the intruder's id in a lower-priority claim.
    await ackError(s, "auth:refresh", "UNAUTHORIZED", { token: hsToken(owner, { userId: intruder }) });

    await ackError(s, "room:join", "FORBIDDEN", { roomName: secret });
    await ackError(s, "room:join", "FORBIDDEN", { roomName: dm.name });
    await ackError(s, "message:send", "FORBIDDEN", { roomName: secret, content: "I am the owner now" });
    const presence = await ackOk(s, "presence:update", { status: "busy" });
    expect(presence.userId).toBe(intruder);
    expect(await hs.db.v("select status as v from realtime_presence where user_id = $1", [owner])).toBeUndefined();
    expect(await rowsOf(owner)).toBe(0);
    expect(await hs.db.q("select user_id from realtime_connections where socket_id = $1", [s.id])).toEqual([{ user_id: intruder }]);
    // A real refresh of its own still works afterwards.
    expect((await ackOk(s, "auth:refresh", { token: hsToken(intruder) })).userId).toBe(intruder);
    s.disconnect();
  });
});

describe("over the whole file", () => {
  it("no refused token ever created a connection row", async () => {
    const users = await hs.db.q<{ user_id: string }>("select distinct user_id from realtime_connections where not anonymous");
    // The one anonymous connection is the deliberate guest on the anonymous relay.
    expect(await hs.db.v("select count(*)::int as v from realtime_connections where anonymous or user_id is null")).toBe(1);
    const unexpected = users.map((r) => r.user_id).filter((u) => !accepted.has(u));
    expect(unexpected).toEqual([]);
    // The file did connect users (the check above is not vacuous).
    expect(users.length).toBeGreaterThan(10);
  });
});
