import http, { type IncomingMessage, type ServerResponse } from "node:http";
import http2, { type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from "node:http2";
import net, { type AddressInfo, type Socket } from "node:net";

export type ServiceRequest = IncomingMessage | Http2ServerRequest;
export type ServiceResponse = ServerResponse | Http2ServerResponse;
export type ServiceHandler = (req: ServiceRequest, res: ServiceResponse) => void | Promise<void>;

export interface CleartextServerOptions {
  handler: ServiceHandler;
  host?: string;
  port?: number;
  /** After close() starts, connections still open after this long are destroyed. */
  drainDeadlineMs?: number;
}

export interface CleartextServer {
  readonly port: number;
  readonly host: string;
  /** `http://host:port`, with an IPv6 host in brackets. */
  readonly url: string;
  readonly draining: boolean;
  /** Stops accepting, lets in-flight requests finish, resolves once every connection is gone. */
  close(): Promise<void>;
}

// Every HTTP/2 connection without TLS (prior knowledge) opens with this preface; no HTTP/1.x request line can.
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const SNIFF_TIMEOUT_MS = 10_000;

/**
 * One TCP port that speaks HTTP/1.1 and h2c with prior knowledge. The first bytes of each connection
 * decide which Node server gets the socket; the sniffed bytes are pushed back before the hand-off.
 */
export function startCleartextServer(options: CleartextServerOptions): Promise<CleartextServer> {
  const host = options.host ?? "127.0.0.1";
  const drainDeadlineMs = options.drainDeadlineMs ?? 10_000;
  let draining = false;

  const http1Sockets = new Map<Socket, number>();
  const h2Sessions = new Set<ServerHttp2Session>();
  const sniffing = new Set<Socket>();

  const dispatch = (req: ServiceRequest, res: ServiceResponse): void => {
    Promise.resolve(options.handler(req, res)).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ error: "internal", message }));
      } else {
        res.end();
      }
    });
  };

  const http1 = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const socket = req.socket;
    http1Sockets.set(socket, (http1Sockets.get(socket) ?? 0) + 1);
    if (draining) res.setHeader("connection", "close");
    res.on("close", () => {
      const active = (http1Sockets.get(socket) ?? 1) - 1;
      http1Sockets.set(socket, active);
      if (draining && active === 0) socket.end();
    });
    dispatch(req, res);
  });

  const h2 = http2.createServer({}, (req, res) => dispatch(req, res));
  h2.on("session", (session: ServerHttp2Session) => {
    h2Sessions.add(session);
    session.on("close", () => h2Sessions.delete(session));
    session.on("error", () => session.destroy());
    if (draining) session.close();
  });

  const handOff = (socket: Socket, sniffed: Buffer, isH2: boolean): void => {
    sniffing.delete(socket);
    socket.setTimeout(0);
    socket.pause();
    socket.unshift(sniffed);
    if (isH2) {
      // The HTTP/2 session reads already-buffered bytes itself on the next tick; resuming here would drop them.
      h2.emit("connection", socket);
    } else {
      http1Sockets.set(socket, 0);
      socket.once("close", () => http1Sockets.delete(socket));
      http1.emit("connection", socket);
      socket.resume();
    }
  };

  const listener = net.createServer((socket) => {
    if (draining) {
      socket.destroy();
      return;
    }
    sniffing.add(socket);
    socket.on("error", () => socket.destroy());
    socket.once("close", () => sniffing.delete(socket));
    socket.setTimeout(SNIFF_TIMEOUT_MS, () => socket.destroy());
    let sniffed: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      sniffed = sniffed.length === 0 ? chunk : Buffer.concat([sniffed, chunk]);
      const compared = Math.min(sniffed.length, H2_PREFACE.length);
      const matchesPreface = sniffed.subarray(0, compared).equals(H2_PREFACE.subarray(0, compared));
      if (matchesPreface && sniffed.length < H2_PREFACE.length) return;
      socket.removeListener("data", onData);
      handOff(socket, sniffed, matchesPreface);
    };
    socket.on("data", onData);
  });

  const close = async (): Promise<void> => {
    if (!draining) {
      draining = true;
      listener.close();
      for (const socket of sniffing) socket.destroy();
      for (const [socket, active] of http1Sockets) if (active === 0) socket.end();
      for (const session of h2Sessions) session.close();
    }
    const deadline = Date.now() + drainDeadlineMs;
    while (http1Sockets.size > 0 || h2Sessions.size > 0) {
      if (Date.now() >= deadline) {
        for (const socket of http1Sockets.keys()) socket.destroy();
        for (const session of h2Sessions) session.destroy();
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise<void>((resolve) => {
      if (!listener.listening) resolve();
      else listener.once("close", () => resolve());
    });
  };

  return new Promise((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(options.port ?? 0, host, () => {
      listener.removeListener("error", reject);
      const { port } = listener.address() as AddressInfo;
      resolve({
        port,
        host,
        url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
        get draining() {
          return draining;
        },
        close,
      });
    });
  });
}

export function sendJson(res: ServiceResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.setHeader("content-length", Buffer.byteLength(payload));
  res.end(payload);
}

/** Request path without the query string. */
export function requestPath(req: ServiceRequest): string {
  const target = req.url ?? "/";
  const query = target.indexOf("?");
  return query === -1 ? target : target.slice(0, query);
}

export function firstHeader(req: ServiceRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Waits `ms` unless the client goes away first; false means there is no one left to answer. */
export function delayResponse(res: ServiceResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.removeListener("close", onClose);
      resolve(true);
    }, ms);
    res.once("close", onClose);
  });
}
