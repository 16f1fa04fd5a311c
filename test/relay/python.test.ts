// Interoperability: the Python Socket.IO client (Debian's python3-socketio) talks to the relay:
// auth token in the handshake, room:join, message:send with acknowledgements, and a message:new
// from a JavaScript client. The script prints one JSON line per step (test/relay/python_client.py).
import { spawn } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ackOk, connect, nextEvent } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = "/usr/bin/python3";
let relay: TestRelay;

beforeAll(async () => {
  relay = await startRelay();
});
afterAll(async () => {
  await relay?.dispose();
});

describe("python-socketio client", () => {
  it("authenticates, joins, sends, and receives a message from a JS client", async () => {
    const room = await createRoom(relay.db, uid("polyglot"));
    const pyUser = uid("python");
    const jsUser = uid("js");
    const js = await connect(relay.url, token(jsUser));
    await ackOk(js, "room:join", { roomName: room });
    const fromPython = nextEvent(js, "message:new", (m: any) => m.userId === pyUser, 15_000);

    const child = spawn(PYTHON, [path.join(here, "python_client.py"), relay.url, token(pyUser), room, jsUser], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const steps: Record<string, any> = {};
    const lines = readline.createInterface({ input: child.stdout });
    try {
      for await (const line of lines) {
        const step = JSON.parse(line);
        steps[step.step] = step;
        if (step.step === "error") throw new Error(`python client failed: ${step.message}\n${stderr}`);
        if (step.step === "ready") {
          // Python has joined and sent: answer from JavaScript.
          await ackOk(js, "message:send", { roomName: room, content: "hello from node" });
        }
        if (step.step === "done") break;
      }
    } finally {
      lines.close();
    }
    expect(await exited, stderr).toBe(0);

    expect(steps.connected.data.protocolVersion).toBe(1);
    expect(steps.connected.data.socketId).toBeTypeOf("string");
    expect(steps.authenticated.data).toMatchObject({ userId: pyUser, rooms: [] });
    expect(steps.joined.ack).toMatchObject({ ok: true, data: { joined: true, room: { name: room } } });
    expect(steps.joined.ack.data.members.map((m: any) => m.userId).sort()).toEqual([jsUser, pyUser].sort());
    expect(steps.sent.ack).toMatchObject({ ok: true, data: { roomName: room, userId: pyUser, content: "hello from python ✓" } });
    expect(steps.received.message).toMatchObject({ roomName: room, userId: jsUser, content: "hello from node" });
    expect(steps["server-error"]).toBeUndefined();

    const m = await fromPython;
    expect(m.content).toBe("hello from python ✓");
    expect(m.id).toBe(steps.sent.ack.data.id);
    js.disconnect();
  });
});
