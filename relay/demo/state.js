// The page's shared state, one object that every module reads and updates (an imported binding
// cannot be reassigned by its importer).
export const state = {
  /** @type {import("/client.js").RealtimeClient | null} */
  client: null,
  /** @type {import("/client.js").Room | null} */
  room: null,
  /** The user id of this page's session (the token's sub). */
  me: null,
  /** Whether this server mints demo tokens: true, false, or null while unknown. */
  canMint: null,
  /** Member ids as last drawn, to tell who came and went. */
  shownMembers: null,
  /** The oldest message id shown, where "Load older messages" goes on from. */
  oldestId: null,
  historyHasMore: false,
  /** Presence updates on their way: the picker is left as the user set it meanwhile. */
  presencePending: 0,
};
