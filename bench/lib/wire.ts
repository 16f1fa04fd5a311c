// A lean Socket.io client for the load generator: engine.io v4 / socket.io v5 frames written and
// read directly over `ws` (websocket transport only, default namespace, text frames only).
//
//   server → client  0{...}             engine.io open        client answers 40<auth json>
//                    40{"sid":..}       CONNECT ok            44{...}  CONNECT_ERROR
//                    2                  ping                  client answers 3
//                    42["name",payload] event                 43<id>[...] acknowledgement
//   client → server  42["name",payload] event                 42<id>["name",payload] with ack id
//
// Frames are decoded only as far as someone listens: an event frame is JSON-parsed only when a
// handler for its name is registered (the name is read with indexOf, not JSON.parse); raw handlers
// get the frame text itself for a prefix (e.g. `42["message:new",`) and pick out what they need.
import WebSocket from "ws";

export interface ConnectError {
  message: string;
  data?: { code?: string; [k: string]: unknown };
}

type Handler = (payload: any) => void;
const OK = Object.freeze({ ok: true });

export class WireSocket {
  readonly ws: WebSocket;
  /** CONNECT accepted (40 received). */
  connected = false;
  closed = false;
  sid: string | undefined;
  private readonly handlers = new Map<string, Handler[]>();
  private raw: { prefix: string; fn: (frame: string) => void }[] = [];
  private readonly acks = new Map<number, Handler>();
  /** Ack ids whose successful answers are not decoded (emit with okOnly). */
  private readonly okOnly = new Set<number>();
  private nextAck = 1;
  private onConnect: (() => void) | undefined;
  private onError: ((err: ConnectError) => void) | undefined;
  private onClose: ((reason: string) => void) | undefined;

  constructor(baseUrl: string, private readonly authJson: string) {
    const url = `${baseUrl.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary) this.frame(data.toString());
    });
    this.ws.on("close", () => this.closedBy("transport close"));
    this.ws.on("error", (err) => {
      if (!this.connected) this.fail({ message: `websocket error: ${err.message}` });
      this.closedBy("transport error");
    });
  }

  /** Called once: CONNECT accepted, CONNECT refused (or the socket closed first). */
  handshake(onConnect: () => void, onError: (err: ConnectError) => void): this {
    this.onConnect = onConnect;
    this.onError = onError;
    return this;
  }

  /** Called once when the websocket closes (after a connect or not). */
  onClosed(fn: (reason: string) => void): this {
    this.onClose = fn;
    return this;
  }

  on(name: string, fn: Handler): this {
    const list = this.handlers.get(name);
    if (list) list.push(fn);
    else this.handlers.set(name, [fn]);
    return this;
  }

  once(name: string, fn: Handler): this {
    const wrapped: Handler = (p) => {
      this.off(name, wrapped);
      fn(p);
    };
    return this.on(name, wrapped);
  }

  off(name: string, fn: Handler): this {
    const list = this.handlers.get(name);
    if (list) {
      const i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.handlers.delete(name);
    }
    return this;
  }

  /** fn gets the text of every event frame named `name`, undecoded. */
  onRaw(name: string, fn: (frame: string) => void): this {
    this.raw.push({ prefix: `42["${name}",`, fn });
    return this;
  }

  removeAllListeners(): this {
    this.handlers.clear();
    this.raw = [];
    this.acks.clear();
    this.okOnly.clear();
    this.onConnect = this.onError = this.onClose = undefined;
    return this;
  }

  /**
   * Sends an event; with ack, the acknowledgement's first argument is passed to it. okOnly: an
   * answer starting {"ok":true is passed as {ok: true} without decoding it (refusals are decoded).
   */
  emit(name: string, payload: unknown, ack?: Handler, okOnly = false): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const body = `["${name}",${JSON.stringify(payload)}]`;
    if (ack) {
      const id = this.nextAck++;
      this.acks.set(id, ack);
      if (okOnly) this.okOnly.add(id);
      this.ws.send(`42${id}${body}`);
    } else {
      this.ws.send(`42${body}`);
    }
  }

  /** Sends a prepared event frame (`42[...]`, no ack). */
  sendFrame(frame: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame);
  }

  /** Acknowledgements sent and not answered yet. */
  get pendingAcks(): number {
    return this.acks.size;
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN) {
      // socket.io DISCONNECT, then the websocket close
      if (this.connected) this.ws.send("41");
      this.ws.close();
    } else if (this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    }
  }

  /** Drops the TCP connection without a close handshake. */
  terminate(): void {
    this.ws.terminate();
  }

  private frame(f: string): void {
    const c = f.charCodeAt(0);
    if (c === 52 /* 4: socket.io packet */) {
      const t = f.charCodeAt(1);
      if (t === 50 /* 2 EVENT */) return this.event(f);
      if (t === 51 /* 3 ACK */) return this.ack(f);
      if (t === 48 /* 0 CONNECT */) {
        this.connected = true;
        const i = f.indexOf('"sid":"');
        if (i >= 0) this.sid = f.slice(i + 7, f.indexOf('"', i + 7));
        const cb = this.onConnect;
        this.onConnect = this.onError = undefined;
        cb?.();
        return;
      }
      if (t === 52 /* 4 CONNECT_ERROR */) {
        let err: ConnectError;
        try {
          err = JSON.parse(f.slice(2));
        } catch {
          err = { message: f.slice(2) };
        }
        this.fail(err);
        this.ws.close();
        return;
      }
      if (t === 49 /* 1 DISCONNECT */) {
        this.ws.close();
        return;
      }
      return;
    }
    if (c === 50 /* 2 ping */) {
      this.ws.send("3");
      return;
    }
    if (c === 48 /* 0 open */) {
      this.ws.send(`40${this.authJson}`);
      return;
    }
    if (c === 49 /* 1 close */) this.ws.close();
  }

  private event(f: string): void {
    for (const r of this.raw) {
      if (f.startsWith(r.prefix)) {
        r.fn(f);
        return;
      }
    }
    if (this.handlers.size === 0 || f.charCodeAt(2) !== 91 /* [ */) return;
    const end = f.indexOf('"', 4);
    const list = this.handlers.get(f.slice(4, end));
    if (!list) return;
    const args = JSON.parse(f.slice(2)) as unknown[];
    for (const fn of [...list]) fn(args[1]);
  }

  private ack(f: string): void {
    const open = f.indexOf("[", 2);
    const id = Number(f.slice(2, open));
    const fn = this.acks.get(id);
    if (!fn) return;
    this.acks.delete(id);
    if (this.okOnly.delete(id) && f.startsWith('{"ok":true', open + 1)) {
      // The caller only wants to know it succeeded: no JSON.parse of the answer.
      fn(OK);
      return;
    }
    const args = JSON.parse(f.slice(open)) as unknown[];
    fn(args[0]);
  }

  private fail(err: ConnectError): void {
    const cb = this.onError;
    this.onConnect = this.onError = undefined;
    cb?.(err);
  }

  private closedBy(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    if (this.onError) this.fail({ message: `closed before CONNECT (${reason})` });
    const cb = this.onClose;
    this.onClose = undefined;
    cb?.(reason);
  }
}

/** A socket with this auth ({token, rooms}); CONNECT is sent on the engine.io open packet. */
export function openWire(baseUrl: string, auth: unknown): WireSocket {
  return new WireSocket(baseUrl, JSON.stringify(auth));
}

/**
 * Pulls a number out of a frame's text: the digits after `marker` (e.g. `"content":"b:`), up to
 * the first character that is not part of a number. NaN when the marker is absent.
 */
export function numberAfter(frame: string, marker: string, from = 0): number {
  const i = frame.indexOf(marker, from);
  if (i < 0) return NaN;
  let j = i + marker.length;
  const start = j;
  for (; j < frame.length; j++) {
    const ch = frame.charCodeAt(j);
    if (!((ch >= 48 && ch <= 57) || ch === 46 || ch === 45)) break;
  }
  return Number(frame.slice(start, j));
}
