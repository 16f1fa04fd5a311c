// What every hostile-input test checks after its attack: a bystander client still pings and still
// receives a room message, /health is 200, the event log drains, and the database holds what it
// held before (connection rows of closed sockets closed, no membership, typing or message rows).
import { expect } from "vitest";
import { createRoom } from "./db.js";
import { uid } from "./names.js";
import type { TestRelay } from "./relay.js";
import { ack, connect, nextEvent, type Client } from "./sockets.js";
import { token } from "./tokens.js";
import { until } from "./wait.js";
import { RawSocket } from "./raw.js";

export interface Snapshot {
  messages: number;
  members: number;
  typing: number;
  open: number;
}

export interface Harness {
  room: string;
  witness: Client;
  speaker: Client;
  snapshot(): Promise<Snapshot>;
  unharmed(): Promise<void>;
  /** Runs one hostile kind; `fn` closes what it opened. The database must be back to before. */
  hostile(fn: () => Promise<void>): Promise<void>;
  /** Whether the connection row of socket `sid` is open (undefined: no row). */
  rowOpen(sid: string): Promise<boolean | undefined>;
  /** A raw websocket through CONNECT with a valid token for `user`. */
  rawClient(user?: string): Promise<RawSocket>;
}

/** Two bystanders (witness and speaker) in a public room of `relay`. */
export async function harness(relay: TestRelay, room: string): Promise<Harness> {
  await createRoom(relay.db, room);
  const speakerId = uid("speaker");
  const witness = await connect(relay.url, token(uid("witness")));
  const speaker = await connect(relay.url, token(speakerId));
  for (const c of [witness, speaker]) expect((await ack(c, "room:join", { roomName: room })).ok).toBe(true);

  const snapshot = async (): Promise<Snapshot> =>
    (
      await relay.db.q<Snapshot>(
        `select (select count(*)::int from realtime_events where type = 'message' and user_id is distinct from $1) as messages,
                (select count(*)::int from realtime_room_members where left_at is null) as members,
                (select count(*)::int from realtime_typing) as typing,
                (select count(*)::int from realtime_connections where disconnected_at is null) as open`,
        [speakerId],
      )
    )[0];

  let probe = 0;
  const unharmed = async () => {
    expect(witness.connected).toBe(true);
    expect((await ack(witness, "ping")).ok).toBe(true);
    const content = `still here ${++probe}`;
    const seen = nextEvent(witness, "message:new", (m: { content: string }) => m.content === content);
    expect((await ack(speaker, "message:send", { roomName: room, content })).ok).toBe(true);
    await seen;
    expect((await fetch(`${relay.url}/health`)).status).toBe(200);
    // A write the database refuses must not wedge the event log (it retries what it could not write).
    const log = relay.server.relay.eventLog;
    await log.flush();
    expect(log.buffered).toBe(0);
  };

  const hostile = async (fn: () => Promise<void>) => {
    const before = await snapshot();
    await fn();
    await until(async () => JSON.stringify(await snapshot()) === JSON.stringify(before), 3000).catch(() => {});
    expect(await snapshot()).toEqual(before);
    await unharmed();
  };

  const rowOpen = (sid: string) =>
    relay.db.v<boolean | undefined>("select bool_or(disconnected_at is null) as v from realtime_connections where socket_id = $1", [sid]);

  const rawClient = async (user = uid("raw")) => {
    const raw = await RawSocket.open(relay.url);
    const { sid, error } = await raw.connect({ token: token(user) });
    expect(error).toBeUndefined();
    expect(sid).toBeTypeOf("string");
    return raw;
  };

  return { room, witness, speaker, snapshot, unharmed, hostile, rowOpen, rawClient };
}
