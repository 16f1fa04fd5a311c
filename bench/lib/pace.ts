// Open-loop pacing: calls send() so that `rate` calls per second happen on average.
import { now } from "./stats.js";

export function paced(rate: number, send: () => void, maxBurst = 2000): { stop(): number } {
  const t0 = now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((now() - t0) / 1000) * rate) - sent;
    for (let i = 0; i < Math.min(due, maxBurst); i++) {
      sent++;
      send();
    }
    if (due > maxBurst) sent += due - maxBurst; // a stalled loop skips, it does not burst
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      return sent;
    },
  };
}
