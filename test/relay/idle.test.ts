// Idle-to-away over real sockets (REALTIME_IDLE_AFTER): a silent user shows away to room members,
// and their next event brings them back at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ackOk, connect, nextEvent } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";

const IDLE_AFTER = 2000; // at least twice the heartbeat, which carries client activity
let relay: TestRelay;

beforeAll(async () => {
  relay = await startRelay({ REALTIME_IDLE_AFTER: String(IDLE_AFTER), REALTIME_PRESENCE_HEARTBEAT: "1000" });
});
afterAll(async () => {
  await relay?.dispose();
});

describe("idle-to-away", () => {
  it("shows a silent user away, and back online on their next event", async () => {
    const room = await createRoom(relay.db, uid("idle"));
    const [quiet, chatty] = [uid("quiet"), uid("chatty")];
    const q = await connect(relay.url, token(quiet));
    const c = await connect(relay.url, token(chatty));
    await ackOk(q, "room:join", { roomName: room });
    await ackOk(c, "room:join", { roomName: room });

    // chatty keeps acting; quiet says nothing more.
    const keepAlive = setInterval(() => c.emit("ping"), 300);
    try {
      const away = await nextEvent(c, "presence:changed", (p: any) => p.userId === quiet && p.status === "away", IDLE_AFTER + 4000);
      expect(away).toMatchObject({ userId: quiet, status: "away" });
      expect(await relay.db.v("select status as v from realtime_presence where user_id = $1", [chatty])).toBe("online");

      const back = nextEvent(c, "presence:changed", (p: any) => p.userId === quiet && p.status === "online", 1500);
      await ackOk(q, "ping");
      await back;
    } finally {
      clearInterval(keepAlive);
      q.disconnect();
      c.disconnect();
    }
  });
});
