// The demo page on the client SDK (served by the relay at /client.js): pick a name (or paste a
// token), join a room, read its history, chat, see who is here and typing, set a status. The SDK
// keeps the connection: after a loss it reconnects, re-joins, replays what was missed and sends what
// waited, so this page only shows its state.
//
// This module wires the page together: dom.js draws (every text that comes from a user or the server
// goes in with textContent, never as HTML), session.js holds the token and the client, status.js the
// status picker, state.js what they share.
import { newClientMessageId } from "/client.js";
import { $, describe, pendingItem, resetChat, showConnection, showLogin, showMessage } from "./dom.js";
import { disconnect, join, loadHistory, probeTokens, recall } from "./session.js";
import { state } from "./state.js";
import { wireStatusPicker } from "./status.js";

document.body.dataset.loaded = "true";
const params = new URLSearchParams(location.search);

async function send(content) {
  const r = state.room;
  if (!r) return;
  const clientMessageId = newClientMessageId();
  // Shown at once; the stored message takes its place (sends wait through reconnects).
  const li = pendingItem(clientMessageId, content);
  try {
    const stored = await r.send(content, { clientMessageId });
    li.remove();
    if (state.room === r) showMessage(stored);
  } catch (err) {
    li.classList.remove("pending");
    li.classList.add("failed");
    li.querySelector(".time").textContent = "not sent: " + describe(err);
  }
}

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
  if (!content.trim() || !state.room) return;
  $("text").value = "";
  void send(content);
});
$("text").addEventListener("input", () => {
  const room = state.room;
  if (!room) return;
  // Every keystroke (the SDK throttles); an emptied field ends the indicator at once.
  if ($("text").value) room.typing();
  else room.stopTyping();
});
wireStatusPicker();
$("older").addEventListener("click", () => {
  if (state.oldestId !== null) void loadHistory(state.oldestId);
});
window.addEventListener("pagehide", () => state.client?.close());
// Back from the back/forward cache with a closed client: start over.
window.addEventListener("pageshow", (ev) => {
  if (ev.persisted && state.room) location.reload();
});

$("user").value = params.get("user") || recall("user") || "";
$("room").value = params.get("room") || recall("room") || "general";
showConnection("disconnected");
const probed = probeTokens();
if (params.get("autoconnect") === "1") void probed.then(join);
