// The baseline: a bare Socket.io server doing the same visible work without the database. It
// verifies the same JWT (HS256), joins the socket to its user room and to the rooms the client
// names in its handshake (the relay reads them from the database instead), and relays
// message:send / typing:start / typing:stop to the room with io.to(room).emit, acknowledging like
// the relay. Like the relay it tells the rooms a user joins that the user is online
// (presence:changed) on connect, and on room:join it joins the socket, tells the room
// (user:joined) and answers the room's members.
import http from "node:http";
import jwt from "jsonwebtoken";
import { Server } from "socket.io";
import { serveIpc } from "./ipc.js";

const secret = process.env.REALTIME_JWT_SECRET ?? "";
const httpServer = http.createServer((_req, res) => {
  res.writeHead(404);
  res.end();
});
const io = new Server(httpServer, { maxHttpBufferSize: 128 * 1024, pingInterval: 25_000, pingTimeout: 20_000 });
let seq = 0;
/** room → user ids of the sockets in it (the room:join answer lists them). */
const members = new Map<string, Map<string, number>>();
function addMember(room: string, userId: string): void {
  let m = members.get(room);
  if (!m) members.set(room, (m = new Map()));
  m.set(userId, (m.get(userId) ?? 0) + 1);
}
function removeMember(room: string, userId: string): void {
  const m = members.get(room);
  if (!m) return;
  const n = (m.get(userId) ?? 0) - 1;
  if (n > 0) m.set(userId, n);
  else m.delete(userId);
  if (m.size === 0) members.delete(room);
}

io.use((socket, next) => {
  try {
    const claims = jwt.verify(String(socket.handshake.auth?.token ?? ""), secret, { algorithms: ["HS256"] });
    if (typeof claims === "string" || typeof claims.sub !== "string") throw new Error("no sub");
    socket.data.userId = claims.sub;
    next();
  } catch (err) {
    next(err as Error);
  }
});

io.on("connection", (socket) => {
  const userId = socket.data.userId as string;
  const rooms = Array.isArray(socket.handshake.auth?.rooms) ? (socket.handshake.auth.rooms as unknown[]).map(String).slice(0, 10) : [];
  const joined = new Set<string>(rooms);
  socket.join([`user:${userId}`, ...rooms.map((r) => `room:${r}`)]);
  for (const r of rooms) addMember(r, userId);
  socket.emit("connected", { socketId: socket.id, serverTime: new Date().toISOString(), protocolVersion: 1 });
  socket.emit("authenticated", { userId, sessionId: socket.id, rooms, anonymous: false });
  if (rooms.length > 0) {
    io.to(rooms.map((r) => `room:${r}`)).emit("presence:changed", { userId, status: "online", customStatus: null, lastSeen: null });
  }
  socket.on("disconnect", () => {
    for (const r of joined) removeMember(r, userId);
  });

  socket.on("room:join", (p: { roomName: string }, ack?: (r: unknown) => void) => {
    const roomName = String(p?.roomName ?? "");
    if (!joined.has(roomName)) {
      joined.add(roomName);
      socket.join(`room:${roomName}`);
      addMember(roomName, userId);
      io.to(`room:${roomName}`).emit("user:joined", { roomName, userId });
    }
    ack?.({ ok: true, data: { roomName, members: [...(members.get(roomName)?.keys() ?? [])] } });
  });

  socket.on("message:send", (p: { roomName: string; content: string; metadata?: unknown }, ack?: (r: unknown) => void) => {
    const message = {
      id: ++seq,
      roomName: p.roomName,
      userId,
      content: p.content,
      threadId: null,
      metadata: p.metadata ?? null,
      timestamp: new Date().toISOString(),
    };
    io.to(`room:${p.roomName}`).emit("message:new", message);
    ack?.({ ok: true, data: message });
  });

  socket.on("typing:start", (p: { roomName: string }, ack?: (r: unknown) => void) => {
    io.to(`room:${p.roomName}`).emit("typing:event", { roomName: p.roomName, threadId: null, users: [userId] });
    ack?.({ ok: true, data: { changed: true } });
  });

  socket.on("typing:stop", (p: { roomName: string }, ack?: (r: unknown) => void) => {
    io.to(`room:${p.roomName}`).emit("typing:event", { roomName: p.roomName, threadId: null, users: [] });
    ack?.({ ok: true, data: { changed: true } });
  });
});

httpServer.listen(Number(process.env.REALTIME_PORT ?? 0), "127.0.0.1", () => {
  const address = httpServer.address();
  serveIpc({
    port: typeof address === "object" && address ? address.port : 0,
    connections: () => io.of("/").sockets.size,
    stop: async () => {
      io.local.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  });
});
