// The demo page (GET /): a small chat client on the real socket.io client, for a first look at the
// server and as a manual test tool. Off with REALTIME_DEMO=false and by default in production.
// Tokens: the page mints one through POST /demo/token only when the server signs with its own
// development secret (embedded mode) or REALTIME_DEMO_TOKENS=true; otherwise paste a token.
import type http from "node:http";
import jwt from "jsonwebtoken";
import type { Relay } from "./server.js";

const PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Realtime demo</title>
<style>
  :root { font: 14px/1.4 system-ui, sans-serif; color: #1d2330; }
  body { margin: 0; background: #f4f5f8; }
  header { background: #1d2330; color: #fff; padding: 10px 16px; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 16px; margin: 0 12px 0 0; }
  header input, header select, header button { font: inherit; padding: 4px 8px; border-radius: 4px; border: 1px solid #667; }
  main { display: grid; grid-template-columns: 220px 1fr; gap: 12px; padding: 12px 16px; height: calc(100vh - 80px); box-sizing: border-box; }
  section { background: #fff; border-radius: 6px; padding: 10px 12px; box-shadow: 0 1px 2px #0002; overflow: auto; }
  #members { list-style: none; margin: 0; padding: 0; }
  #members li { padding: 3px 0; display: flex; align-items: center; gap: 6px; }
  .dot { width: 10px; height: 10px; border-radius: 50%; display: inline-block; background: #aab; }
  .dot.online { background: #2bb673; } .dot.away { background: #f5a623; } .dot.busy { background: #e0454b; } .dot.offline { background: #aab; }
  .custom { color: #667; font-size: 12px; }
  #chat { display: flex; flex-direction: column; }
  #messages { flex: 1; overflow: auto; list-style: none; margin: 0; padding: 0; }
  #messages li { padding: 3px 0; } #messages .who { font-weight: 600; margin-right: 6px; }
  #messages .sys { color: #889; font-style: italic; }
  #typing { min-height: 20px; color: #667; font-style: italic; }
  form#send { display: flex; gap: 8px; } form#send input { flex: 1; font: inherit; padding: 6px 8px; }
  #status-line { font-size: 12px; color: #cfd3dc; }
  .error { color: #e0454b; }
</style>
</head>
<body>
<header>
  <h1>Realtime demo</h1>
  <label>User <input id="user" placeholder="alice" size="10"></label>
  <label>Token <input id="token" placeholder="JWT (filled for you in dev mode)" size="22"></label>
  <label>Room <input id="room" value="general" size="10"></label>
  <button id="connect">Connect</button>
  <label>Status <select id="status"><option>online</option><option>away</option><option>busy</option><option>offline</option></select></label>
  <input id="custom" placeholder="custom status" size="12">
  <span id="status-line">disconnected</span>
</header>
<main>
  <section><strong>Members</strong><ul id="members"></ul></section>
  <section id="chat">
    <ul id="messages"></ul>
    <div id="typing"></div>
    <form id="send"><input id="text" placeholder="Type a message" autocomplete="off"><button>Send</button></form>
  </section>
</main>
<script src="/socket.io/socket.io.js"></script>
<script>
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
if (params.get("user")) $("user").value = params.get("user");
if (params.get("room")) $("room").value = params.get("room");
let socket = null, me = null, room = null, members = new Map(), typers = [], lastTypingSent = 0;

function line(text, cls) {
  const li = document.createElement("li");
  if (cls) li.className = cls;
  li.textContent = text;
  $("messages").appendChild(li);
  li.scrollIntoView();
}
function message(m) {
  const li = document.createElement("li");
  const who = document.createElement("span"); who.className = "who"; who.textContent = m.userId;
  li.appendChild(who); li.appendChild(document.createTextNode(m.content));
  li.dataset.id = m.id;
  $("messages").appendChild(li); li.scrollIntoView();
}
function renderMembers() {
  const ul = $("members"); ul.textContent = "";
  for (const m of members.values()) {
    const li = document.createElement("li"); li.dataset.user = m.userId; li.dataset.status = m.status;
    const dot = document.createElement("span"); dot.className = "dot " + m.status; dot.title = m.status;
    li.appendChild(dot); li.appendChild(document.createTextNode(m.userId + (m.userId === me ? " (you)" : "")));
    if (m.customStatus && (m.customStatus.text || m.customStatus.emoji)) {
      const c = document.createElement("span"); c.className = "custom";
      c.textContent = " " + (m.customStatus.emoji || "") + " " + (m.customStatus.text || ""); li.appendChild(c);
    }
    ul.appendChild(li);
  }
}
function renderTyping() {
  const others = typers.filter((u) => u !== me);
  $("typing").textContent = others.length === 0 ? "" :
    others.length === 1 ? others[0] + " is typing…" : others.join(", ") + " are typing…";
}
async function getToken(user) {
  if ($("token").value) return $("token").value;
  const res = await fetch("/demo/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId: user }) });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ? body.error.message : "no token");
  return body.token;
}
function fail(err) { $("status-line").textContent = err.code ? err.code + ": " + err.message : String(err.message || err); $("status-line").className = "error"; }

$("connect").onclick = async () => {
  const user = $("user").value.trim();
  if (!user) { fail({ message: "pick a user name" }); return; }
  let token;
  try { token = await getToken(user); } catch (e) { fail(e); return; }
  if (socket) socket.close();
  socket = io({ auth: { token }, transports: ["websocket"] });
  socket.on("connect_error", (err) => fail(err.data || err));
  socket.on("authenticated", async (a) => {
    me = a.userId;
    $("status-line").className = ""; $("status-line").textContent = "connected as " + me;
    room = $("room").value.trim();
    const res = await socket.emitWithAck("room:join", { roomName: room });
    if (!res.ok) { fail(res.error); return; }
    members = new Map(res.data.members.map((m) => [m.userId, m]));
    typers = res.data.typing.filter((t) => !t.threadId).map((t) => t.userId);
    renderMembers(); renderTyping();
    line("joined " + room + " (" + res.data.memberCount + " members)", "sys");
    document.body.dataset.joined = room;
  });
  socket.on("message:new", (m) => { if (m.roomName === room) message(m); });
  socket.on("typing:event", (e) => { if (e.roomName === room && !e.threadId) { typers = e.users; renderTyping(); } });
  socket.on("presence:changed", (p) => {
    const m = members.get(p.userId);
    if (m) { m.status = p.status; m.customStatus = p.customStatus; renderMembers(); }
  });
  socket.on("user:joined", (e) => {
    if (e.roomName !== room || members.has(e.userId)) return;
    members.set(e.userId, { userId: e.userId, status: "online" }); renderMembers(); line(e.userId + " joined", "sys");
  });
  socket.on("user:left", (e) => { if (e.roomName === room) { members.delete(e.userId); renderMembers(); line(e.userId + " left", "sys"); } });
  socket.on("error", (e) => fail(e));
  socket.on("disconnect", () => { $("status-line").textContent = "disconnected"; });
};
$("text").addEventListener("input", () => {
  if (!socket || !room) return;
  const now = Date.now();
  if (now - lastTypingSent > 1000) { lastTypingSent = now; socket.emit("typing:start", { roomName: room }); }
});
$("send").onsubmit = async (ev) => {
  ev.preventDefault();
  const content = $("text").value; if (!content || !socket) return;
  $("text").value = ""; lastTypingSent = 0;
  const res = await socket.emitWithAck("message:send", { roomName: room, content });
  if (!res.ok) fail(res.error);
};
async function updatePresence() {
  if (!socket) return;
  const text = $("custom").value.trim();
  const res = await socket.emitWithAck("presence:update", { status: $("status").value, customStatus: text ? { text } : null });
  if (!res.ok) fail(res.error);
}
$("status").onchange = updatePresence;
$("custom").onchange = updatePresence;
if (params.get("autoconnect") === "1") $("connect").click();
</script>
</body>
</html>
`;

async function readBody(req: http.IncomingMessage, limit = 4096): Promise<string> {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw new Error("body too large");
  }
  return body;
}

function isLoopback(address: string | undefined): boolean {
  return address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1";
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

/** Serves the demo routes; returns false for other paths. */
export async function serveDemo(relay: Relay, url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
  if (url.pathname === "/" && req.method === "GET") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(PAGE);
    return true;
  }
  if (url.pathname === "/favicon.ico") {
    res.writeHead(204).end();
    return true;
  }
  if (url.pathname === "/demo/token" && req.method === "POST") {
    const secret = relay.demoTokenSecret;
    if (!secret) {
      json(res, 403, { error: { code: "FORBIDDEN", message: "this server does not mint demo tokens; paste a token" } });
      return true;
    }
    // With the generated development secret, only this machine may mint tokens: the server listens
    // on all interfaces by default, and a token from here is anyone's identity.
    if (!relay.config.demoTokens && !isLoopback(req.socket.remoteAddress)) {
      json(res, 403, { error: { code: "FORBIDDEN", message: "demo tokens are minted for local clients only (REALTIME_DEMO_TOKENS=true allows others)" } });
      return true;
    }
    let userId: unknown;
    try {
      userId = JSON.parse(await readBody(req)).userId;
    } catch {
      json(res, 400, { error: { code: "BAD_REQUEST", message: "send {\"userId\": \"name\"}" } });
      return true;
    }
    if (typeof userId !== "string" || !/^[A-Za-z0-9_.@-]{1,64}$/.test(userId)) {
      json(res, 400, { error: { code: "BAD_REQUEST", message: "userId must be 1 to 64 letters, digits or _.@-" } });
      return true;
    }
    json(res, 200, { token: jwt.sign({ sub: userId }, secret, { algorithm: "HS256", expiresIn: "12h" }) });
    return true;
  }
  return false;
}
