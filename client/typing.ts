// Typing indicator throttle for one room (and thread): call keystroke() on every keystroke. The
// first keystroke sends typing:start; while keystrokes continue a start is sent again every
// `refreshMs` (the server expires an indicator after REALTIME_TYPING_TIMEOUT, 3 s by default);
// `idleMs` after the last keystroke a typing:stop is sent. Sending a message ends it too (the
// server clears the sender's indicator when it stores the message, so no stop is sent then).

export interface TypingTimings {
  /** ms between two typing:start while typing continues (default 2000). */
  refreshMs: number;
  /** ms without a keystroke after which typing:stop is sent (default 2500). */
  idleMs: number;
}

export class TypingThrottle {
  private active = false;
  private lastStart = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly signal: (op: "start" | "stop") => void,
    private readonly timings: TypingTimings,
  ) {}

  get typing(): boolean {
    return this.active;
  }

  keystroke(now = Date.now()): void {
    if (!this.active || now - this.lastStart >= this.timings.refreshMs) {
      this.active = true;
      this.lastStart = now;
      this.signal("start");
    }
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stop(), this.timings.idleMs);
  }

  /** Ends the indicator now (typing:stop when one was started). */
  stop(): void {
    const was = this.active;
    this.reset();
    if (was) this.signal("stop");
  }

  /** Forgets the indicator without telling the server (it was cleared there: a send, a disconnect). */
  reset(): void {
    this.active = false;
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}
