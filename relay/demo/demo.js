// The demo page on the client SDK (served by the relay at /client.js): pick a name (or paste a
// token), join a room, read its history, chat, see who is here and typing, set a status. The SDK
// keeps the connection: after a loss it reconnects, re-joins, replays what was missed and sends what
// waited, so this page only shows its state.
//
// Every text that comes from a user or the server goes in with textContent, never as HTML.
import { RealtimeClient, RealtimeError, newClientMessageId } from "/client.js";

document.body.dataset.loaded = "true";
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const STATUSES = ["online", "away", "busy", "offline"];

/** @type {RealtimeClient | null} */
let client = null;
/** @type {import("/client.js").Room | null} */
let room = null;
let me = null;
/** Whether this server mints demo tokens: true, false, or null while unknown. */
let canMint = null;
/** Member ids as last drawn, to tell who came and went. */
let shownMembers = null;
let oldestId = null;
let historyHasMore = false;

// ---- small helpers ------------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function remember(key, value) {
  try {
    localStorage.setItem("realtime-demo:" + key, value);
  } catch {
    // Storage off (private mode): nothing to remember.
  }
}
function recall(key) {
  try {
    return localStorage.getItem("realtime-demo:" + key);
  } catch {
    return null;
  }
}

function describe(err) {
  if (err instanceof RealtimeError || (err && err.code)) return err.code + ": " + err.message;
  return String((err && err.message) || err);
}

function showLoginError(text) {
  $("login-error").textContent = text;
}

let noticeTimer;
function notice(text) {
  const n = $("notice");
  n.textContent = text;
  n.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (n.hidden = true), 6000);
}

function setDot(dot, status) {
  const s = STATUSES.includes(status) ? status : "offline";
  dot.className = "dot " + s;
  dot.dataset.status = s;
  dot.title = s;
}

// ---- tokens -------------------------------------------------------------------------------------

async function mintToken(userId) {
  const res = await fetch("/demo/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId }) });
  let body = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON: described below.
  }
  if (res.ok && body && typeof body.token === "string") return body.token;
  const error = new Error((body && body.error && body.error.message) || "no token (HTTP " + res.status + ")");
  error.code = (body && body.error && body.error.code) || "HTTP_" + res.status;
  throw error;
}

/** Paste mode: the server mints no tokens; explain how to get one. */
function tokensUnavailable(reason) {
  canMint = false;
  document.body.dataset.tokens = "paste";
  $("token-help").hidden = false;
  $("token-reason").textContent = reason ? "The server says: " + reason : "";
  $("token-reason").hidden = !reason;
  $("token-box").open = true;
  $("user-row").hidden = true;
}

/**
 * Asks the server whether it mints tokens without minting one: an empty body is refused with 403
 * when it mints none (or not for this client), with 400 when it would.
 */
async function probeTokens() {
  try {
    const res = await fetch("/demo/token", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    if (res.status === 403) {
      const body = await res.json().catch(() => null);
      tokensUnavailable(body && body.error ? body.error.message : "");
    } else if (res.status === 400) {
      canMint = true;
      document.body.dataset.tokens = "mint";
    }
  } catch {
    // Unknown: the first Join tells.
  }
}

// ---- messages -----------------------------------------------------------------------------------

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function timeElement(iso) {
  const t = el("time", "time");
  const date = new Date(iso);
  if (!Number.isNaN(date.getTime())) {
    t.dateTime = date.toISOString();
    t.textContent = timeFormat.format(date);
    t.title = dayFormat.format(date);
  }
  return t;
}

function nearBottom() {
  const list = $("messages");
  return list.scrollHeight - list.scrollTop - list.clientHeight < 60;
}
function scrollToBottom() {
  const list = $("messages");
  list.scrollTop = list.scrollHeight;
}

function messageItem(m) {
  const li = el("li", "msg" + (m.userId === me ? " mine" : ""));
  li.dataset.id = String(m.id);
  li.dataset.user = m.userId;
  const head = el("div", "head");
  head.append(el("span", "who", m.userId), timeElement(m.timestamp));
  li.append(head, el("div", "text", m.content));
  return li;
}

/** Shows a message once, in id order; replaces the "sending…" line of one this page sent. */
function showMessage(m) {
  if (!m || typeof m.id !== "number") return;
  const list = $("messages");
  if (list.querySelector('li[data-id="' + m.id + '"]')) return;
  const stick = nearBottom();
  if (m.clientMessageId) {
    for (const p of list.querySelectorAll("li.pending")) if (p.dataset.clientId === m.clientMessageId) p.remove();
  }
  const li = messageItem(m);
  let before = null;
  for (const other of list.querySelectorAll("li[data-id]")) {
    if (Number(other.dataset.id) > m.id) {
      before = other;
      break;
    }
  }
  before ??= list.querySelector("li.pending");
  list.insertBefore(li, before);
  if (oldestId === null || m.id < oldestId) oldestId = m.id;
  if (stick || m.userId === me) scrollToBottom();
}

function systemLine(text) {
  const stick = nearBottom();
  const li = el("li", "sys", text);
  $("messages").insertBefore(li, $("messages").querySelector("li.pending"));
  if (stick) scrollToBottom();
}

async function loadHistory(before) {
  if (!room) return;
  const r = room;
  try {
    const page = await r.history(before === undefined ? { limit: 50 } : { before, limit: 50 });
    if (r !== room) return;
    const list = $("messages");
    const top = list.scrollHeight - list.scrollTop;
    for (const m of page.messages) showMessage(m);
    if (before === undefined) scrollToBottom();
    else list.scrollTop = list.scrollHeight - top;
    historyHasMore = page.hasMore && page.messages.length > 0;
    $("older").hidden = !historyHasMore;
  } catch (err) {
    notice("history: " + describe(err));
  }
}

// ---- members, presence and typing ---------------------------------------------------------------

const ORDER = { online: 0, busy: 1, away: 2, offline: 3 };

function renderMembers() {
  if (!room) return;
  const members = [...room.members.entries()].sort(([a, x], [b, y]) =>
    a === me ? -1 : b === me ? 1 : (ORDER[x.status] ?? 9) - (ORDER[y.status] ?? 9) || a.localeCompare(b),
  );
  const ul = $("members");
  ul.textContent = "";
  for (const [userId, state] of members) {
    const li = el("li");
    li.dataset.user = userId;
    li.dataset.status = state.status;
    const dot = el("span");
    setDot(dot, state.status);
    const name = el("span", "name", userId);
    li.append(dot, name);
    if (userId === me) li.append(el("span", "you", "(you)"));
    const custom = state.customStatus;
    if (custom && (custom.text || custom.emoji)) {
      li.append(el("span", "custom", [custom.emoji, custom.text].filter(Boolean).join(" ")));
    }
    ul.append(li);
  }
  const online = members.filter(([, s]) => s.status !== "offline").length;
  $("member-count").textContent = online + "/" + members.length + " online";

  // Who came and went since the last drawing.
  const ids = new Set(room.members.keys());
  if (shownMembers) {
    for (const id of ids) if (!shownMembers.has(id)) systemLine(id + " joined the room");
    for (const id of shownMembers) if (!ids.has(id)) systemLine(id + " left the room");
  }
  shownMembers = ids;
  showOwnStatus(room.members.get(me));
}

/** The user's own dot (header and picker) and the picker, as the server has it. */
function showOwnStatus(state) {
  if (!state) return;
  setDot($("my-dot"), state.status);
  setDot($("picker-dot"), state.status);
  document.body.dataset.status = state.status;
  if (document.activeElement !== $("status") && !presencePending) $("status").value = state.status;
  if (document.activeElement !== $("custom") && !presencePending) $("custom").value = (state.customStatus && state.customStatus.text) || "";
}

function renderTyping(userIds) {
  const others = userIds.filter((u) => u !== me);
  $("typing").textContent =
    others.length === 0 ? "" :
    others.length === 1 ? others[0] + " is typing…" :
    others.length <= 3 ? others.slice(0, -1).join(", ") + " and " + others[others.length - 1] + " are typing…" :
    others.length + " people are typing…";
}

let presencePending = 0;
async function updatePresence() {
  if (!client) return;
  const text = $("custom").value.trim();
  const status = $("status").value;
  setDot($("picker-dot"), status);
  presencePending++;
  try {
    const p = await client.setPresence({ status, customStatus: text ? { text } : null });
    showOwnStatus({ status: p.status, customStatus: p.customStatus });
  } catch (err) {
    notice("status: " + describe(err));
  } finally {
    presencePending--;
    if (room) showOwnStatus(room.members.get(me));
  }
}

// ---- connection ---------------------------------------------------------------------------------

function showConnection(state) {
  document.body.dataset.connection = state;
  $("connection").textContent = state === "reconnecting" ? "reconnecting…" : state === "connecting" ? "connecting…" : state;
  $("banner").hidden = state !== "reconnecting";
}

function showLogin() {
  $("app").hidden = true;
  $("me").hidden = true;
  $("switch").hidden = true;
  $("login").hidden = false;
  delete document.body.dataset.joined;
}

function showApp() {
  $("login").hidden = true;
  $("app").hidden = false;
  $("me").hidden = false;
  $("switch").hidden = false;
  $("my-name").textContent = me;
  $("my-room").textContent = room.name;
  document.body.dataset.joined = room.name;
  document.title = room.name + " · Realtime demo";
}

function resetChat() {
  $("messages").textContent = "";
  $("members").textContent = "";
  $("typing").textContent = "";
  $("older").hidden = true;
  shownMembers = null;
  oldestId = null;
  historyHasMore = false;
}

function disconnect() {
  const c = client;
  client = null;
  room = null;
  c?.close();
  showConnection("disconnected");
}

async function join() {
  showLoginError("");
  const roomName = $("room").value.trim();
  const pasted = $("token").value.trim();
  const name = $("user").value.trim();
  if (!roomName) return showLoginError("Name a room to join.");
  if (!pasted && canMint === false) return showLoginError("Paste a token first (see above).");
  if (!pasted && !name) return showLoginError("Pick a user name.");

  // The token: the pasted one, or one minted for the name (and minted again for every reconnect).
  let token;
  if (pasted) {
    token = pasted;
  } else {
    let first;
    try {
      first = await mintToken(name);
    } catch (err) {
      if (err.code === "FORBIDDEN") {
        tokensUnavailable(err.message);
        return showLoginError("This server mints no demo tokens: paste one (see above).");
      }
      return showLoginError("No token: " + err.message);
    }
    let latest = first;
    let unused = first;
    token = async () => {
      if (unused) {
        const t = unused;
        unused = undefined;
        return t;
      }
      try {
        latest = await mintToken(name);
      } catch {
        // Keep the last one: the server refuses it if it has expired.
      }
      return latest;
    };
    remember("user", name);
  }
  remember("room", roomName);

  disconnect();
  resetChat();
  $("connect").disabled = true;
  const c = new RealtimeClient({ url: location.origin, token, reconnectDelayMaxMs: 3000 });
  client = c;
  c.on("state", (state) => {
    if (client !== c) return;
    showConnection(state);
    if (state === "disconnected" && room) {
      // Closed for good (the token was refused on a reconnect, the server ended the session).
      room = null;
      showLogin();
      showLoginError("Disconnected. Join again.");
    }
  });
  c.on("error", (err) => {
    if (client === c && room && err.code !== "UNAUTHORIZED") notice(describe(err));
  });
  try {
    await c.connect();
    me = c.userId;
    const r = await c.join(roomName);
    if (client !== c) return;
    room = r;
    r.on("message", showMessage);
    r.on("members", renderMembers);
    r.on("typing", (userIds, threadId) => {
      if (threadId === null) renderTyping(userIds);
    });
    r.on("gap", () => {
      systemLine("some messages could not be replayed: reloading the history");
      void loadHistory();
    });
    r.on("left", (reason) => {
      if (room !== r) return;
      systemLine(reason === "leave" ? "you left the room" : "you are no longer in this room" + (reason && reason.code ? " (" + reason.code + ")" : ""));
    });
    r.on("error", (err) => notice("room: " + describe(err)));
    showApp();
    renderMembers();
    renderTyping(r.typingUsers);
    await loadHistory();
    systemLine("you joined " + r.name + (r.info ? " (" + r.info.type + ", " + r.info.visibility + ")" : ""));
    document.body.dataset.ready = "true";
    $("text").focus();
  } catch (err) {
    if (client !== c) return;
    disconnect();
    showLogin();
    if (err && err.code === "NOT_FOUND") {
      showLoginError("There is no room " + roomName + ". Ask your administrator or run npx realtime rooms to see which exist.");
    } else if (err && err.code === "UNAUTHORIZED") {
      showLoginError("The token was refused: " + err.message);
    } else {
      showLoginError(describe(err));
    }
  } finally {
    $("connect").disabled = false;
  }
}

// ---- sending ------------------------------------------------------------------------------------

async function send(content) {
  const r = room;
  if (!r) return;
  const clientMessageId = newClientMessageId();
  // Shown at once; the stored message takes its place (sends wait through reconnects).
  const li = el("li", "msg mine pending");
  li.dataset.clientId = clientMessageId;
  const head = el("div", "head");
  head.append(el("span", "who", me), el("span", "time", "sending…"));
  li.append(head, el("div", "text", content));
  $("messages").append(li);
  scrollToBottom();
  try {
    const stored = await r.send(content, { clientMessageId });
    li.remove();
    if (room === r) showMessage(stored);
  } catch (err) {
    li.classList.remove("pending");
    li.classList.add("failed");
    li.querySelector(".time").textContent = "not sent: " + describe(err);
  }
}

// ---- wiring -------------------------------------------------------------------------------------

$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  void join();
});
$("switch").addEventListener("click", () => {
  disconnect();
  resetChat();
  showLogin();
});
$("send").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const content = $("text").value;
  if (!content.trim() || !room) return;
  $("text").value = "";
  void send(content);
});
$("text").addEventListener("input", () => {
  if (!room) return;
  // Every keystroke (the SDK throttles); an emptied field ends the indicator at once.
  if ($("text").value) room.typing();
  else room.stopTyping();
});
$("status").addEventListener("change", () => void updatePresence());
$("custom").addEventListener("change", () => void updatePresence());
$("presence").addEventListener("submit", (ev) => {
  ev.preventDefault();
  void updatePresence();
});
$("older").addEventListener("click", () => {
  if (oldestId !== null) void loadHistory(oldestId);
});
window.addEventListener("pagehide", () => client?.close());
// Back from the back/forward cache with a closed client: start over.
window.addEventListener("pageshow", (ev) => {
  if (ev.persisted && room) location.reload();
});

$("user").value = params.get("user") || recall("user") || "";
$("room").value = params.get("room") || recall("room") || "general";
showConnection("disconnected");
const probed = probeTokens();
if (params.get("autoconnect") === "1") void probed.then(join);
