// Messages stored but never published (a send whose answer was lost to a database restart, or a
// relay that died between storing and publishing) reach the room's sockets after the relay's next
// recovery: here, the LISTEN connection coming back. Messages already delivered are not repeated.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ackOk, collect, connect } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";
import { until } from "../helpers/wait.js";

let relay: TestRelay;

beforeAll(async () => {
  relay = await startRelay();
});
afterAll(async () => {
  await relay?.dispose();
});

describe("replay after a LISTEN gap", () => {
  it("delivers a stored message that was never published, once, and does not repeat delivered ones", async () => {
    // Setup: two members; one message delivered the normal way.
    const room = await createRoom(relay.db, uid("gap"));
    const [ann, ben] = [uid("ann"), uid("ben")];
    const a = await connect(relay.url, token(ann));
    const b = await connect(relay.url, token(ben));
    await ackOk(a, "room:join", { roomName: room });
    await ackOk(b, "room:join", { roomName: room });
    const received = collect<{ id: number; content: string }>(b, "message:new");
    const delivered = await ackOk(a, "message:send", { roomName: room, content: "delivered" });
    await until(() => received.some((m) => m.id === delivered.id) || null);

    // Action: a message stored without being published (as when its sender's answer was lost),
    // then the LISTEN session is killed and comes back.
    const stored = await relay.db.v<{ id: number }>("select realtime_send_message($1, $2, 'stored, never published') as v", [room, ann]);
    await relay.db.q(
      "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'realtime-listen'",
    );

    // Assertions: the stored message arrives once; the delivered one is not repeated.
    await until(() => received.some((m) => m.id === stored.id) || null, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(received.filter((m) => m.id === stored.id)).toHaveLength(1);
    expect(received.filter((m) => m.id === delivered.id)).toHaveLength(1);
    a.disconnect();
    b.disconnect();
  });
});
