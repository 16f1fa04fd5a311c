// Hostile frames below the event layer: malformed engine.io and socket.io packets over a raw
// websocket and over HTTP long-polling, bad namespaces, binary attachment abuse, oversized frames,
// events before CONNECT, floods. For each kind: the offending connection gets an error code or is
// closed, a bystander client still pings and still receives room messages, /health stays 200, the
// event log is not stuck, and the database is left as before (no open connection rows of closed
// sockets, no membership, typing or message rows).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { harness, type Harness } from "../helpers/hostile.js";
import { uid } from "../helpers/names.js";
import { decodeEvent, type Frame, Polling, RawSocket } from "../helpers/raw.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { token } from "../helpers/tokens.js";
import { sleep, until } from "../helpers/wait.js";

const MAX_PAYLOAD = 16_384; // engine.io refuses frames over twice this
const LOBBY = "hostile-lobby";

let relay: TestRelay;
let h: Harness;
const hostile = (fn: () => Promise<void>) => h.hostile(fn);
const rowOpen = (sid: string) => h.rowOpen(sid);
const rawClient = (user?: string) => h.rawClient(user);

beforeAll(async () => {
  relay = await startRelay({ REALTIME_MAX_PAYLOAD: String(MAX_PAYLOAD) });
  h = await harness(relay, LOBBY);
});
afterAll(async () => {
  await relay?.dispose();
});

/** Sends `frame` on a connected raw socket and expects the relay to close the connection. */
async function expectClosedBy(...frames: Frame[]): Promise<void> {
  const raw = await rawClient();
  expect(await rowOpen(raw.sid!)).toBe(true);
  for (const f of frames) raw.send(f);
  expect(await raw.waitClosed()).toBe(true);
  await until(async () => (await rowOpen(raw.sid!)) === false);
}

/** A polling session through CONNECT: its socket.io sid. */
async function pollingClient(user = uid("poll")): Promise<{ poll: Polling; sid: string }> {
  const poll = await Polling.open(relay.url);
  expect((await poll.post(`40${JSON.stringify({ token: token(user) })}`)).status).toBe(200);
  let sid: string | undefined;
  let authenticated = false;
  for (let i = 0; i < 5 && !authenticated; i++) {
    const got = await poll.get();
    for (const p of got?.packets ?? []) {
      if (p.startsWith("40{")) sid = JSON.parse(p.slice(2)).sid;
      if (decodeEvent(p)?.name === "authenticated") authenticated = true;
    }
  }
  expect(authenticated).toBe(true);
  return { poll, sid: sid! };
}

/** Sends `frame` (carrying ack id `id`) and expects a refusal with `code` in the ack and an `error` event. */
async function expectRefused(raw: RawSocket, frame: string, id: number, code: string): Promise<void> {
  const answer = await raw.rawAck<{ ok: boolean; error: { code: string; message: string } }>(frame, id);
  expect(answer, frame.slice(0, 80)).toMatchObject({ ok: false, error: { code } });
  expect(answer!.error.message.length).toBeGreaterThan(0);
  expect(await raw.event("error", (e: { code: string }) => e.code === code)).toBeDefined();
}

describe("engine.io packets over a raw websocket", () => {
  it("#1 closes the connection on an unknown engine.io packet type", async () => {
    await hostile(() => expectClosedBy("9hello"));
  });

  it("#2 closes the connection on an empty text frame", async () => {
    await hostile(() => expectClosedBy(""));
  });

  it("#3 closes the connection on a text frame that is not engine.io at all", async () => {
    await hostile(() => expectClosedBy("GET / HTTP/1.1\r\n\r\n"));
  });

  it("#4 closes the connection on invalid UTF-8 in a text frame (1007)", async () => {
    await hostile(async () => {
      const raw = await rawClient();
      raw.send(Buffer.from([0x34, 0x32, 0x5b, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x5d]), false);
      expect(await raw.waitClosed()).toBe(true);
      expect(raw.closeCode).toBe(1007);
    });
  });

  it("#5 closes the connection on a binary frame (invalid UTF-8 bytes) no BINARY_EVENT announced", async () => {
    await hostile(() => expectClosedBy(Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xa0, 0xa1])));
  });

  it("#6 closes the connection on a websocket frame over the buffer limit (1009)", async () => {
    await hostile(async () => {
      const raw = await rawClient();
      raw.send(`42${JSON.stringify(["message:send", { roomName: LOBBY, content: "x".repeat(MAX_PAYLOAD * 2 + 10) }])}`);
      expect(await raw.waitClosed()).toBe(true);
      expect(raw.closeCode).toBe(1009);
    });
  });

  it("#7 ignores stray engine.io close/upgrade/noop/pong packets on a websocket, or closes it (probe ping)", async () => {
    await hostile(async () => {
      // Each packet on its own connection: it keeps serving, or is closed; nothing in between.
      for (const f of ["1", "5", "6", "3", "3probe", "2probe", "4"]) {
        const raw = await rawClient();
        raw.send(f);
        const answer = await raw.emitAck("ping");
        expect(raw.closed || answer?.ok === true, JSON.stringify(f)).toBe(true);
        raw.close();
        await until(async () => (await rowOpen(raw.sid!)) === false);
      }
    });
  });

  it("#8 ends a polling session on an engine.io close packet, and records the disconnect", async () => {
    await hostile(async () => {
      const { poll, sid } = await pollingClient();
      expect((await poll.post("1")).status).toBe(200);
      await until(async () => (await rowOpen(sid)) === false);
      expect((await poll.get(1000))?.status).toBe(400);
    });
  });

  it("#9 refuses handshakes with a bad protocol version or transport before any socket exists", async () => {
    await hostile(async () => {
      for (const query of ["EIO=3&transport=polling", "EIO=99&transport=polling", "EIO=4&transport=carrier-pigeon", "EIO=4&transport=polling&sid=nope"]) {
        const res = await fetch(`${relay.url}/socket.io/?${query}`);
        expect(res.status, query).toBe(400);
        await res.text();
      }
      await expect(RawSocket.open(relay.url, "EIO=3&transport=websocket")).rejects.toThrow(/no engine.io open packet/);
      await expect(RawSocket.open(relay.url, "EIO=4&transport=websocket&sid=forged")).rejects.toThrow(/no engine.io open packet/);
    });
  });
});

describe("socket.io packets over a raw websocket", () => {
  it("#10 closes the connection on unterminated JSON in an event", async () => {
    await hostile(() => expectClosedBy(`42["room:join",{"roomName":"${LOBBY}"`));
  });

  it("#11 closes the connection on invalid JSON in an event", async () => {
    await hostile(() => expectClosedBy("42[room:join, {roomName: 'x'}]"));
  });

  it("#12 closes the connection on an empty socket.io packet", async () => {
    await hostile(() => expectClosedBy("4"));
  });

  it("#13 closes the connection on unknown socket.io packet types", async () => {
    await hostile(async () => {
      await expectClosedBy('47["ping"]');
      await expectClosedBy("4x");
    });
  });

  it("#14 closes the connection on reserved event names (connect, disconnect, ...)", async () => {
    await hostile(async () => {
      await expectClosedBy('42["disconnect"]');
      await expectClosedBy('42["connect_error",{}]');
    });
  });

  it("#15 closes the connection on an event whose payload is not a non-empty array", async () => {
    await hostile(async () => {
      await expectClosedBy('42{"name":"ping"}');
      await expectClosedBy("42[]");
      await expectClosedBy('42"ping"');
    });
  });

  it("#16 answers a numeric event name BAD_REQUEST, and closes on a null or object event name", async () => {
    await hostile(async () => {
      const raw = await rawClient();
      await expectRefused(raw, "4217[42,{}]", 17, "BAD_REQUEST");
      raw.close();
      await expectClosedBy("42[null]");
      await expectClosedBy('42[{"toString":"ping"}]');
    });
  });

  it("#17 answers unknown events with huge, NUL-holding or prototype names BAD_REQUEST", async () => {
    await hostile(async () => {
      const raw = await rawClient();
      await expectRefused(raw, `421${JSON.stringify(["e".repeat(12_000), {}])}`, 1, "BAD_REQUEST");
      await expectRefused(raw, `422${JSON.stringify(["nul\u0000name", {}])}`, 2, "BAD_REQUEST");
      await expectRefused(raw, '423["\\ud800lone"]', 3, "BAD_REQUEST");
      for (const [i, name] of ["__proto__", "constructor", "hasOwnProperty", "toString"].entries()) {
        await expectRefused(raw, `42${10 + i}${JSON.stringify([name, { roomName: LOBBY }])}`, 10 + i, "BAD_REQUEST");
      }
      raw.close();
    });
  });

  it("#18 closes a connection that sends events before CONNECT (before authentication)", async () => {
    await hostile(async () => {
      const raw = await RawSocket.open(relay.url);
      raw.send(`42${JSON.stringify(["message:send", { roomName: LOBBY, content: "unauthenticated" }])}`);
      expect(await raw.waitClosed()).toBe(true);
    });
  });

  it("#19 refuses CONNECT without a usable token (UNAUTHORIZED) and closes on events that follow", async () => {
    await hostile(async () => {
      for (const auth of [undefined, {}, { token: 42 }, { token: ["a"] }, { token: { sub: "x" } }, { token: "x".repeat(20_000) }, { token: "a.b.c" }]) {
        const raw = await RawSocket.open(relay.url);
        const { error } = await raw.connect(auth);
        expect(error?.data?.code, JSON.stringify(auth)?.slice(0, 40)).toBe("UNAUTHORIZED");
        raw.send('421["ping"]');
        expect(await raw.waitClosed()).toBe(true);
      }
    });
  });

  it("#20 closes the connection on a CONNECT whose auth is not an object", async () => {
    await hostile(async () => {
      for (const frame of ['40"token"', "40[1,2]", "40null", "40{broken"]) {
        const raw = await RawSocket.open(relay.url);
        raw.send(frame);
        expect(await raw.waitClosed(), frame).toBe(true);
      }
    });
  });

  it("#21 closes the connection on a second CONNECT to the same namespace", async () => {
    await hostile(() => expectClosedBy(`40${JSON.stringify({ token: token(uid("twice")) })}`));
  });

  it("#22 refuses CONNECT to other namespaces (/admin, /x, path tricks), and closes on events sent there", async () => {
    await hostile(async () => {
      const raw = await rawClient();
      for (const nsp of ["/admin", "/x", "/../../etc/passwd", "/\u0000"]) {
        raw.send(`40${nsp},${JSON.stringify({ token: token(uid("nsp")) })}`);
        const f = (await raw.waitFor((fr) => typeof fr === "string" && fr.startsWith(`44${nsp},`))) as string | undefined;
        expect(f, nsp).toBeDefined();
        expect(JSON.parse(f!.slice(3 + nsp.length)).message).toBe("Invalid namespace");
      }
      // The default namespace is unaffected...
      expect(await raw.emitAck("ping")).toMatchObject({ ok: true });
      // ...until an event goes to a namespace it never joined.
      raw.send('42/admin,["ping"]');
      expect(await raw.waitClosed()).toBe(true);
    });
  });

  it("#23 closes the connection on the client's own CONNECT_ERROR or DISCONNECT packet", async () => {
    await hostile(async () => {
      // A client-sent DISCONNECT ends the socket.io socket (its row is closed).
      const raw = await rawClient();
      raw.send("41");
      await until(async () => (await rowOpen(raw.sid!)) === false);
      raw.send('421["ping"]'); // no namespace socket any more: the connection goes
      expect(await raw.waitClosed()).toBe(true);
      // CONNECT_ERROR is a server → client packet: from a client it ends the connection.
      await expectClosedBy('44{"message":"forged"}');
    });
  });

  it("#24 ignores acknowledgements for ids the server never asked, and absurd ack ids", async () => {
    await hostile(async () => {
      const raw = await rawClient();
      raw.send('43999[{"ok":true}]');
      raw.send('43[{"ok":true}]');
      raw.send('4399999999999999999999999[1]');
      raw.send('4399999999999999999999999["ping"]');
      // An event whose ack id overflows a safe integer is still answered, or the connection is dropped.
      raw.send('4299999999999999999999999["ping"]');
      const answer = await raw.waitFor((f) => typeof f === "string" && f.startsWith("43"), 1000);
      if (!raw.closed) expect(await raw.emitAck("ping")).toMatchObject({ ok: true });
      expect(answer === undefined || raw.closed || /^43[0-9e+.]+\[/.test(answer as string)).toBe(true);
      raw.close();
    });
  });
});

describe("binary attachment abuse", () => {
  it("#25 closes the connection on a BINARY_EVENT claiming 1000 attachments", async () => {
    await hostile(() => expectClosedBy('451000-["room:join",{"_placeholder":true,"num":0}]'));
  });

  it("#26 closes the connection on malformed attachment counts", async () => {
    await hostile(async () => {
      await expectClosedBy('450-["ping"]');
      await expectClosedBy('45abc-["ping"]');
      await expectClosedBy('45-1-["ping"]');
      await expectClosedBy('452["ping"]');
    });
  });

  it("#27 never dispatches a BINARY_EVENT whose attachments are not sent, and closes when text follows", async () => {
    await hostile(async () => {
      const raw = await rawClient();
      raw.send(`452-1${JSON.stringify(["message:send", { roomName: LOBBY, content: { _placeholder: true, num: 0 } }])}`);
      raw.send(Buffer.from("only one of two"));
      expect(await raw.waitFor((f) => typeof f === "string" && f.startsWith("43"), 300)).toBeUndefined();
      raw.send('422["ping"]');
      expect(await raw.waitClosed()).toBe(true);
    });
  });

  it("#28 closes the connection on a placeholder pointing outside the attachments", async () => {
    await hostile(async () => {
      for (const num of [99, -1, "0", "__proto__", null]) {
        await expectClosedBy(`451-${JSON.stringify(["room:join", { roomName: { _placeholder: true, num } }])}`, Buffer.from([1, 2, 3]));
      }
      // A fractional index passes the parser's range check and resolves to nothing: the field is missing.
      const raw = await rawClient();
      raw.send(`451-${JSON.stringify(["room:join", { roomName: { _placeholder: true, num: 0.5 } }])}`);
      raw.send(Buffer.from([1, 2, 3]));
      expect(await raw.event("error", (e: { code: string }) => e.code === "BAD_REQUEST")).toMatchObject({ message: /roomName/ });
      raw.close();
    });
  });

  it("#29 treats placeholder objects in a plain EVENT as data: BAD_REQUEST", async () => {
    await hostile(async () => {
      const raw = await rawClient();
      await expectRefused(raw, '421["room:join",{"_placeholder":true,"num":99}]', 1, "BAD_REQUEST");
      await expectRefused(raw, `422${JSON.stringify(["message:send", { roomName: LOBBY, content: { _placeholder: true, num: 0 } }])}`, 2, "BAD_REQUEST");
      raw.close();
    });
  });

  it("#30 answers binary attachments (invalid UTF-8 bytes) in place of payloads and fields BAD_REQUEST", async () => {
    await hostile(async () => {
      const bytes = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28]);
      const cases: [number, unknown[]][] = [
        [1, ["room:join", { _placeholder: true, num: 0 }]],
        [2, ["room:join", { roomName: { _placeholder: true, num: 0 } }]],
        [3, ["message:send", { roomName: LOBBY, content: { _placeholder: true, num: 0 } }]],
        [4, ["presence:get", { userIds: [{ _placeholder: true, num: 0 }] }]],
        [5, ["auth:refresh", { token: { _placeholder: true, num: 0 } }]],
      ];
      const raw2 = await rawClient();
      for (const [id, packet] of cases) {
        raw2.send(`451-${id}${JSON.stringify(packet)}`);
        raw2.send(bytes);
        const answer = await raw2.waitFor((f) => typeof f === "string" && f.startsWith(`43${id}[`));
        expect(answer, JSON.stringify(packet)).toBeDefined();
        expect(JSON.parse((answer as string).slice(`43${id}`.length))[0]).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
      }
      raw2.close();
    });
  });
});

describe("HTTP long-polling", () => {
  it("#31 refuses a POST to an unknown session, and a GET with a forged sid", async () => {
    await hostile(async () => {
      const res = await fetch(`${relay.url}/socket.io/?EIO=4&transport=polling&sid=forged`, { method: "POST", body: '42["ping"]' });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ message: "Session ID unknown" });
    });
  });

  it("#32 closes the session on a POST over the buffer limit (413)", async () => {
    await hostile(async () => {
      const { poll, sid } = await pollingClient();
      const res = await poll.post(`42${JSON.stringify(["message:send", { roomName: LOBBY, content: "y".repeat(MAX_PAYLOAD * 3) }])}`);
      expect(res.status).toBe(413);
      await until(async () => (await rowOpen(sid)) === false);
    });
  });

  it("#33 closes the session on malformed packets in a POST (unterminated JSON, unknown types)", async () => {
    await hostile(async () => {
      for (const body of ['42["room:join",{"roomName":', "9x", "4\x1e4", '451000-["ping"]']) {
        const { poll, sid } = await pollingClient();
        await poll.post(body);
        // engine.io closes a polling session once its queued packets are fetched (or at ping timeout).
        const after = await poll.get(1000);
        expect(after === undefined || after.status === 400 || after.packets.includes("1"), JSON.stringify(body)).toBe(true);
        await until(async () => (await rowOpen(sid)) === false);
      }
    });
  });

  it("#34 closes a polling session that sends events before CONNECT", async () => {
    await hostile(async () => {
      const poll = await Polling.open(relay.url);
      await poll.post(`42${JSON.stringify(["room:join", { roomName: LOBBY }])}`);
      const after = await poll.get(1000);
      expect(after === undefined || after.status === 400 || after.packets.includes("1")).toBe(true);
      expect((await poll.post('42["ping"]')).status).toBe(400);
    });
  });

  it("#35 throttles a POST of thousands of tiny packets with RATE_LIMITED (and the session ends or recovers)", async () => {
    await hostile(async () => {
      const { poll } = await pollingClient();
      // One ack id for all: 2,500 packets fit in one POST under the buffer limit.
      const body = Array.from({ length: 2500 }, () => '421["ping"]').join("\x1e");
      expect(body.length).toBeLessThan(MAX_PAYLOAD * 2);
      expect((await poll.post(body)).status).toBe(200);
      const answers: string[] = [];
      for (let i = 0; i < 20; i++) {
        const got = await poll.get(1000);
        if (!got || got.status !== 200) break;
        answers.push(...got.packets);
        if (got.packets.includes("1")) break;
        if (answers.filter((p) => p.startsWith("431[")).length >= 2500) break;
      }
      const acks = answers.filter((p) => p.startsWith("431[")).map((p) => JSON.parse(p.slice(3))[0]);
      expect(acks.filter((a) => a.ok).length).toBeLessThanOrEqual(200);
      expect(acks.some((a) => !a.ok && a.error.code === "RATE_LIMITED")).toBe(true);
      // Whatever happened to the flooder, its session is closed from here on.
      await fetch(poll.endpoint, { method: "POST", body: "1" }).then((r) => r.text());
    });
  });

  it("#36 closes a session on overlapping GETs", async () => {
    await hostile(async () => {
      const { poll, sid } = await pollingClient();
      const first = poll.get(2000);
      await sleep(50);
      const second = await poll.get(2000);
      await first;
      expect(second === undefined || second.status !== 200 || second.packets.includes("1")).toBe(true);
      await until(async () => (await rowOpen(sid)) === false);
    });
  });
});

describe("floods over a raw websocket", () => {
  it("#37 throttles a burst of 3000 events with RATE_LIMITED; the flooder is refused or disconnected", async () => {
    await hostile(async () => {
      const raw = await rawClient();
      for (let i = 1; i <= 3000; i++) raw.send(`42${i}["ping"]`);
      await raw.waitFor((f) => typeof f === "string" && f.startsWith("433000["), 3000);
      const acks = raw.frames.filter((f): f is string => typeof f === "string" && /^43\d+\[/.test(f)).map((f) => JSON.parse(f.replace(/^43\d+/, ""))[0]);
      expect(acks.filter((a) => a.ok).length).toBeLessThanOrEqual(200);
      expect(acks.some((a) => !a.ok && a.error.code === "RATE_LIMITED") || raw.closed).toBe(true);
      raw.close();
    });
  });

  it("#38 survives a churn of 40 half-finished handshakes (closed before, during and after CONNECT)", async () => {
    await hostile(async () => {
      const sockets = await Promise.all(Array.from({ length: 40 }, () => RawSocket.open(relay.url)));
      sockets.forEach((raw, i) => {
        if (i % 3 > 0) raw.send(`40${JSON.stringify({ token: token(uid("churn")) })}`);
        if (i % 3 === 1) raw.close(); // during the handshake's registration
      });
      await Promise.all(sockets.filter((_, i) => i % 3 === 2).map((raw) => raw.event("authenticated")));
      for (const raw of sockets) raw.close();
    });
  });
});
