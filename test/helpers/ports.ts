// TCP ports for the services a test starts itself: a free one below the ephemeral range, and a
// check that something accepts connections on one.
import net from "node:net";

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    // 0.0.0.0: taken when anything listens on the port, on any address.
    server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
  });
}

/** A free TCP port below 32768 (above it the kernel hands out ephemeral ports). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await portFree(port)) return port;
  }
  throw new Error("no free port found below 32768");
}

/** Whether something accepts a TCP connection on 127.0.0.1:port. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => {
      s.end();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}
