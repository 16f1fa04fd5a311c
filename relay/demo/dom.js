// Element helpers, the page's views (login, chat, connection state) and the drawing of messages,
// members and typing. Every text that comes from a user or the server goes in with textContent,
// never as HTML.
import { RealtimeError } from "/client.js";
import { state } from "./state.js";

export const $ = (id) => document.getElementById(id);
export const STATUSES = ["online", "away", "busy", "offline"];

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function describe(err) {
  if (err instanceof RealtimeError || (err && err.code)) return err.code + ": " + err.message;
  return String((err && err.message) || err);
}

export function showLoginError(text) {
  $("login-error").textContent = text;
}

let noticeTimer;
export function notice(text) {
  const n = $("notice");
  n.textContent = text;
  n.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (n.hidden = true), 6000);
}

export function setDot(dot, status) {
  const s = STATUSES.includes(status) ? status : "offline";
  dot.className = "dot " + s;
  dot.dataset.status = s;
  dot.title = s;
}

// ---- the page's views --------------------------------------------------------------------------

export function showConnection(connection) {
  document.body.dataset.connection = connection;
  $("connection").textContent = connection === "reconnecting" ? "reconnecting…" : connection === "connecting" ? "connecting…" : connection;
  $("banner").hidden = connection !== "reconnecting";
}

export function showLogin() {
  $("app").hidden = true;
  $("me").hidden = true;
  $("switch").hidden = true;
  $("login").hidden = false;
  delete document.body.dataset.joined;
}

export function showApp() {
  const { me, room } = state;
  $("login").hidden = true;
  $("app").hidden = false;
  $("me").hidden = false;
  $("switch").hidden = false;
  $("my-name").textContent = me;
  $("my-room").textContent = room.name;
  document.body.dataset.joined = room.name;
  document.title = room.name + " · Realtime demo";
}

export function resetChat() {
  $("messages").textContent = "";
  $("members").textContent = "";
  $("typing").textContent = "";
  $("older").hidden = true;
  state.shownMembers = null;
  state.oldestId = null;
  state.historyHasMore = false;
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
export function scrollToBottom() {
  const list = $("messages");
  list.scrollTop = list.scrollHeight;
}

function messageItem(m) {
  const li = el("li", "msg" + (m.userId === state.me ? " mine" : ""));
  li.dataset.id = String(m.id);
  li.dataset.user = m.userId;
  const head = el("div", "head");
  head.append(el("span", "who", m.userId), timeElement(m.timestamp));
  li.append(head, el("div", "text", m.content));
  return li;
}

/** The "sending…" line of a message this page sent, at the end of the list until it is stored. */
export function pendingItem(clientMessageId, content) {
  const li = el("li", "msg mine pending");
  li.dataset.clientId = clientMessageId;
  const head = el("div", "head");
  head.append(el("span", "who", state.me), el("span", "time", "sending…"));
  li.append(head, el("div", "text", content));
  $("messages").append(li);
  scrollToBottom();
  return li;
}

/** Shows a message once, in id order; replaces the "sending…" line of one this page sent. */
export function showMessage(m) {
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
  if (state.oldestId === null || m.id < state.oldestId) state.oldestId = m.id;
  if (stick || m.userId === state.me) scrollToBottom();
}

export function systemLine(text) {
  const stick = nearBottom();
  const li = el("li", "sys", text);
  $("messages").insertBefore(li, $("messages").querySelector("li.pending"));
  if (stick) scrollToBottom();
}

// ---- members and typing -------------------------------------------------------------------------

const ORDER = { online: 0, busy: 1, away: 2, offline: 3 };

/** The member list of the room (the user first, then by status and name) and who came and went. */
export function renderMembers() {
  const { room, me } = state;
  if (!room) return;
  const members = [...room.members.entries()].sort(([a, x], [b, y]) =>
    a === me ? -1 : b === me ? 1 : (ORDER[x.status] ?? 9) - (ORDER[y.status] ?? 9) || a.localeCompare(b),
  );
  const ul = $("members");
  ul.textContent = "";
  for (const [userId, member] of members) {
    const li = el("li");
    li.dataset.user = userId;
    li.dataset.status = member.status;
    const dot = el("span");
    setDot(dot, member.status);
    const name = el("span", "name", userId);
    li.append(dot, name);
    if (userId === me) li.append(el("span", "you", "(you)"));
    const custom = member.customStatus;
    if (custom && (custom.text || custom.emoji)) {
      li.append(el("span", "custom", [custom.emoji, custom.text].filter(Boolean).join(" ")));
    }
    ul.append(li);
  }
  const online = members.filter(([, s]) => s.status !== "offline").length;
  $("member-count").textContent = online + "/" + members.length + " online";

  // Who came and went since the last drawing.
  const ids = new Set(room.members.keys());
  if (state.shownMembers) {
    for (const id of ids) if (!state.shownMembers.has(id)) systemLine(id + " joined the room");
    for (const id of state.shownMembers) if (!ids.has(id)) systemLine(id + " left the room");
  }
  state.shownMembers = ids;
}

export function renderTyping(userIds) {
  const others = userIds.filter((u) => u !== state.me);
  $("typing").textContent =
    others.length === 0 ? "" :
    others.length === 1 ? others[0] + " is typing…" :
    others.length <= 3 ? others.slice(0, -1).join(", ") + " and " + others[others.length - 1] + " are typing…" :
    others.length + " people are typing…";
}
