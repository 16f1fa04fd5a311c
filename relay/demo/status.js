// The status picker: the user's own dot (header and picker) as the server has it, and the picker's
// changes sent as the user's presence.
import { $, describe, notice, setDot } from "./dom.js";
import { state } from "./state.js";

/** The user's own dot (header and picker) and the picker, as the server has it. */
export function showOwnStatus(own) {
  if (!own) return;
  setDot($("my-dot"), own.status);
  setDot($("picker-dot"), own.status);
  document.body.dataset.status = own.status;
  if (document.activeElement !== $("status") && !state.presencePending) $("status").value = own.status;
  if (document.activeElement !== $("custom") && !state.presencePending) $("custom").value = (own.customStatus && own.customStatus.text) || "";
}

export async function updatePresence() {
  const client = state.client;
  if (!client) return;
  const text = $("custom").value.trim();
  const status = $("status").value;
  setDot($("picker-dot"), status);
  state.presencePending++;
  try {
    const p = await client.setPresence({ status, customStatus: text ? { text } : null });
    showOwnStatus({ status: p.status, customStatus: p.customStatus });
  } catch (err) {
    notice("status: " + describe(err));
  } finally {
    state.presencePending--;
    if (state.room) showOwnStatus(state.room.members.get(state.me));
  }
}

/** Wires the picker: a new status or custom text is sent at once. */
export function wireStatusPicker() {
  $("status").addEventListener("change", () => void updatePresence());
  $("custom").addEventListener("change", () => void updatePresence());
  $("presence").addEventListener("submit", (ev) => {
    ev.preventDefault();
    void updatePresence();
  });
}
