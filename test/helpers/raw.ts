// Hand-written engine.io v4 / socket.io v5 clients, so tests can send what no well-behaved client
// library would: a websocket speaking the protocol frame by frame, and HTTP long-polling by fetch.
import WebSocket from "ws";

export type Frame = string | Buffer;

/** A socket.io event frame of the default namespace, decoded; undefined for anything else. */
export function decodeEvent(frame: Frame): { id?: number; name: unknown; args: unknown[] } | undefined {
  if (typeof frame !== "string") return undefined;
  const m = /^42(\d*)(\[.*)$/s.exec(frame);
  if (!m) return undefined;
  const [name, ...args] = JSON.parse(m[2]) as unknown[];
  return { id: m[1] ? Number(m[1]) : undefined, name, args };
}

/** A raw websocket on the engine.io endpoint; answers engine.io pings itself. */
export class RawSocket {
  readonly frames: Frame[] = [];
  closed = false;
  closeCode: number | undefined;
  /** The socket.io socket id once CONNECT succeeded (realtime_connections.socket_id). */
  sid: string | undefined;
  private readonly waiters = new Set<() => void>();
  private nextAckId = 1;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data, isBinary) => {
      const frame: Frame = isBinary ? Buffer.from(data as Buffer) : data.toString();
      if (frame === "2") ws.send("3"); // engine.io ping → pong
      this.frames.push(frame);
      this.wake();
    });
    ws.on("close", (code) => {
      this.closed = true;
      this.closeCode = code;
      this.wake();
    });
    ws.on("error", () => {
      // a refused or reset connection shows as close; the test asserts on that
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Opens the websocket and waits for the engine.io open packet. */
  static async open(baseUrl: string, query = "EIO=4&transport=websocket"): Promise<RawSocket> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/socket.io/?${query}`);
    const raw = new RawSocket(ws);
    const open = await raw.waitFor((f) => typeof f === "string" && f.startsWith("0{"), 3000);
    if (!open) throw new Error(`no engine.io open packet (closed: ${raw.closed}, code ${raw.closeCode})`);
    return raw;
  }

  send(data: Frame, binary = typeof data !== "string"): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary });
  }

  /**
   * The first received frame matching pred (removed from the list), or undefined when the socket
   * closed or ms passed first.
   */
  waitFor(pred: (f: Frame) => boolean, ms = 3000): Promise<Frame | undefined> {
    return new Promise((resolve) => {
      const check = () => {
        const i = this.frames.findIndex(pred);
        if (i >= 0) return done(this.frames.splice(i, 1)[0]);
        if (this.closed) return done(undefined);
      };
      const done = (f: Frame | undefined) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(f);
      };
      const timer = setTimeout(() => done(undefined), ms);
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves true once the websocket is closed, false if still open after ms. */
  async waitClosed(ms = 3000): Promise<boolean> {
    if (this.closed) return true;
    await this.waitFor(() => false, ms);
    return this.closed;
  }

  /** The next `name` event's first argument. */
  async event<T = any>(name: string, pred: (p: T) => boolean = () => true, ms = 3000): Promise<T | undefined> {
    const f = await this.waitFor((fr) => {
      const e = decodeEvent(fr);
      return e !== undefined && e.name === name && pred(e.args[0] as T);
    }, ms);
    return f === undefined ? undefined : (decodeEvent(f)!.args[0] as T);
  }

  /** socket.io CONNECT to the default namespace with this auth; resolves the sid or the CONNECT_ERROR. */
  connect(auth: unknown): Promise<{ sid?: string; error?: { message: string; data?: { code: string } } }> {
    return this.connectJson(auth === undefined ? "" : JSON.stringify(auth));
  }

  /** CONNECT with hand-written JSON auth (JSON.stringify cannot write what a hostile client can). */
  async connectJson(authJson: string): Promise<{ sid?: string; error?: { message: string; data?: { code: string } } }> {
    this.send(`40${authJson}`);
    const f = (await this.waitFor((fr) => typeof fr === "string" && /^4[04][{]/.test(fr))) as string | undefined;
    if (!f) throw new Error("no answer to CONNECT");
    const body = JSON.parse(f.slice(2));
    if (f.startsWith("44")) return { error: body };
    this.sid = body.sid;
    if (!(await this.event("authenticated"))) throw new Error("no authenticated event");
    return { sid: body.sid };
  }

  /** Sends an event with an acknowledgement id and waits for the ACK's first argument. */
  async emitAck<T = any>(name: unknown, ...args: unknown[]): Promise<T | undefined> {
    const id = this.nextAckId++;
    return this.rawAck<T>(`42${id}${JSON.stringify([name, ...args])}`, id);
  }

  /** Sends a hand-built frame carrying ack id `id` and waits for that ACK. */
  async rawAck<T = any>(frame: Frame, id: number, ms = 3000): Promise<T | undefined> {
    this.send(frame);
    const prefix = `43${id}[`;
    const f = await this.waitFor((fr) => typeof fr === "string" && fr.startsWith(prefix), ms);
    return f === undefined ? undefined : (JSON.parse((f as string).slice(prefix.length - 1))[0] as T);
  }

  takeAckId(): number {
    return this.nextAckId++;
  }

  close(): void {
    this.ws.terminate();
  }
}

/** engine.io's HTTP long-polling, by fetch. */
export class Polling {
  private constructor(
    readonly url: string,
    readonly engineSid: string,
  ) {}

  static async open(baseUrl: string): Promise<Polling> {
    const res = await fetch(`${baseUrl}/socket.io/?EIO=4&transport=polling`);
    const text = await res.text();
    if (res.status !== 200 || !text.startsWith("0{")) throw new Error(`polling open failed: ${res.status} ${text}`);
    return new Polling(baseUrl, JSON.parse(text.slice(1)).sid);
  }

  get endpoint(): string {
    return `${this.url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(this.engineSid)}`;
  }

  /** POSTs a payload (packets separated by \x1e); answers status and body. */
  async post(body: string): Promise<{ status: number; body: string }> {
    const res = await fetch(this.endpoint, {
      method: "POST",
      body,
      headers: { "content-type": "text/plain;charset=UTF-8" },
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, body: await res.text() };
  }

  /**
   * One GET; resolves its packets, or undefined when the request failed. The server holds a GET
   * with nothing to send for a whole ping interval, so call it only when something is due.
   */
  async get(ms = 3000): Promise<{ status: number; packets: string[] } | undefined> {
    try {
      const res = await fetch(this.endpoint, { signal: AbortSignal.timeout(ms) });
      const text = await res.text();
      return { status: res.status, packets: res.status === 200 ? text.split("\x1e") : [text] };
    } catch {
      return undefined;
    }
  }
}
