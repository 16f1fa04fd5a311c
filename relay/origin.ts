/**
 * Whether a browser origin may connect. Requests without an Origin header (native and server-side
 * clients) are allowed: authentication is the token, not the origin. Same-origin requests (the
 * built-in demo page, clients such as python-socketio that send the server's own address) are
 * always allowed; REALTIME_CORS_ORIGIN adds origins.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: string[] | undefined): boolean {
  if (!origin) return true;
  if (allowed && (allowed.includes("*") || allowed.includes(origin))) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
