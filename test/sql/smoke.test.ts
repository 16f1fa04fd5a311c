import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { listenRealtime } from "./support.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe("schema", () => {
  it("has the six seed tables and four seed views", async () => {
    const rows = await db.q<{ relname: string }>(
      "select relname from pg_class where relname like 'realtime_%' and relkind in ('r','v') order by 1",
    );
    const names = rows.map((r) => r.relname);
    for (const t of ["realtime_connections", "realtime_rooms", "realtime_room_members", "realtime_presence", "realtime_typing", "realtime_events", "realtime_active_connections", "realtime_room_stats", "realtime_current_typing", "realtime_presence_summary"]) {
      expect(names).toContain(t);
    }
  });

  it("announces a room join on the realtime channel", async () => {
    const l = await listenRealtime(db.url);
    await db.q("select realtime_create_room('general')");
    await db.q("select realtime_join_room('general', 'alice')");
    const m = await l.waitFor((m) => m.kind === "member");
    expect(m).toEqual({ v: 1, kind: "member", op: "joined", room: "general", userId: "alice" });
    await l.close();
  });
});
