// The demo page's client: connects with a token (minted by POST /demo/token when the server allows
// it), joins one room, shows members with presence, typing and messages.
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
