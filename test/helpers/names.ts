// Names unique to a test run: database names stamped with their creation time, and ids for users,
// rooms and sockets.

/** Test database names carry their creation time, so an interrupted run's leftovers can be dropped. */
export function stampedName(prefix: string): string {
  return `${prefix}_${Math.floor(Date.now() / 1000)}_${Math.random().toString(16).slice(2, 10)}`;
}

let counter = 0;
/** An id unique within the run (user, room, socket, node...), so tests do not see each other's rows. */
export function uid(prefix = "user"): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}
