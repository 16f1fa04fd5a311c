// The session: a token (minted through POST /demo/token, or pasted when the server mints none) and
// the RealtimeClient's lifecycle: connect, join the room, read its history, follow its events, and
// show the connection's state; back to the login form when it ends.
import { RealtimeClient } from "/client.js";
import { $, describe, notice, renderMembers, renderTyping, resetChat, scrollToBottom, showApp, showConnection, showLogin, showLoginError, showMessage, systemLine } from "./dom.js";
import { state } from "./state.js";
import { showOwnStatus } from "./status.js";

export function remember(key, value) {
  try {
    localStorage.setItem("realtime-demo:" + key, value);
  } catch {
    // Storage off (private mode): nothing to remember.
  }
}
export function recall(key) {
  try {
    return localStorage.getItem("realtime-demo:" + key);
  } catch {
    return null;
  }
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
  state.canMint = false;
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
export async function probeTokens() {
  try {
    const res = await fetch("/demo/token", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    if (res.status === 403) {
      const body = await res.json().catch(() => null);
      tokensUnavailable(body && body.error ? body.error.message : "");
    } else if (res.status === 400) {
      state.canMint = true;
      document.body.dataset.tokens = "mint";
    }
  } catch {
    // Unknown: the first Join tells.
  }
}

/** The pasted token, or a function that mints one for the name (again for every reconnect). */
async function tokenFor(pasted, name) {
  if (pasted) return pasted;
  let latest = await mintToken(name);
  let unused = latest;
  return async () => {
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
}

/** The members, and the user's own status as the room has it. */
function showMembers() {
  if (!state.room) return;
  renderMembers();
  showOwnStatus(state.room.members.get(state.me));
}

// ---- the client ---------------------------------------------------------------------------------

export function disconnect() {
  const c = state.client;
  state.client = null;
  state.room = null;
  c?.close();
  showConnection("disconnected");
}

/** A page of history: the latest, or the one before a message id (kept in view). */
export async function loadHistory(before) {
  if (!state.room) return;
  const r = state.room;
  try {
    const page = await r.history(before === undefined ? { limit: 50 } : { before, limit: 50 });
    if (r !== state.room) return;
    const list = $("messages");
    const top = list.scrollHeight - list.scrollTop;
    for (const m of page.messages) showMessage(m);
    if (before === undefined) scrollToBottom();
    else list.scrollTop = list.scrollHeight - top;
    state.historyHasMore = page.hasMore && page.messages.length > 0;
    $("older").hidden = !state.historyHasMore;
  } catch (err) {
    notice("history: " + describe(err));
  }
}

/** Joins the room the form names, as the form's user or with its pasted token. */
export async function join() {
  showLoginError("");
  const roomName = $("room").value.trim();
  const pasted = $("token").value.trim();
  const name = $("user").value.trim();
  if (!roomName) return showLoginError("Name a room to join.");
  if (!pasted && state.canMint === false) return showLoginError("Paste a token first (see above).");
  if (!pasted && !name) return showLoginError("Pick a user name.");

  let token;
  try {
    token = await tokenFor(pasted, name);
  } catch (err) {
    if (err.code === "FORBIDDEN") {
      tokensUnavailable(err.message);
      return showLoginError("This server mints no demo tokens: paste one (see above).");
    }
    return showLoginError("No token: " + err.message);
  }
  if (!pasted) remember("user", name);
  remember("room", roomName);

  disconnect();
  resetChat();
  $("connect").disabled = true;
  const c = new RealtimeClient({ url: location.origin, token, reconnectDelayMaxMs: 3000 });
  state.client = c;
  c.on("state", (connection) => {
    if (state.client !== c) return;
    showConnection(connection);
    if (connection === "disconnected" && state.room) {
      // Closed for good (the token was refused on a reconnect, the server ended the session).
      state.room = null;
      showLogin();
      showLoginError("Disconnected. Join again.");
    }
  });
  c.on("error", (err) => {
    if (state.client === c && state.room && err.code !== "UNAUTHORIZED") notice(describe(err));
  });
  try {
    await c.connect();
    state.me = c.userId;
    const r = await c.join(roomName);
    if (state.client !== c) return;
    state.room = r;
    r.on("message", showMessage);
    r.on("members", showMembers);
    r.on("typing", (userIds, threadId) => {
      if (threadId === null) renderTyping(userIds);
    });
    r.on("gap", () => {
      systemLine("some messages could not be replayed: reloading the history");
      void loadHistory();
    });
    r.on("left", (reason) => {
      if (state.room !== r) return;
      systemLine(reason === "leave" ? "you left the room" : "you are no longer in this room" + (reason && reason.code ? " (" + reason.code + ")" : ""));
    });
    r.on("error", (err) => notice("room: " + describe(err)));
    showApp();
    showMembers();
    renderTyping(r.typingUsers);
    await loadHistory();
    systemLine("you joined " + r.name + (r.info ? " (" + r.info.type + ", " + r.info.visibility + ")" : ""));
    document.body.dataset.ready = "true";
    $("text").focus();
  } catch (err) {
    if (state.client !== c) return;
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
