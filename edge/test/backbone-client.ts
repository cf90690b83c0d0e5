import { readFileSync } from "node:fs";
import { connect, constants } from "node:http2";
import type { BackbonePeer } from "../loopback-edge.ts";
import type { Endpoint } from "../placement.ts";

/**
 * A peer's request to a POP's backbone listener: h2 over TLS, presenting a client certificate when
 * given one. The server's certificate is checked against the CA and `servername` (its DNS SAN).
 */

/** A peer's TLS settings; without `certPath`/`keyPath` the client presents no certificate. */
export type BackboneClientTls = Omit<BackbonePeer, "certPath" | "keyPath"> & Partial<Pick<BackbonePeer, "certPath" | "keyPath">>;

export interface BackboneReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** ALPN protocol the connection negotiated. */
  alpn: string | false | undefined;
}

/** Resolves with the reply; rejects with the TLS or connection error when the server refuses the peer. */
export function backboneRequest(endpoint: Endpoint, path: string, headers: Record<string, string>, tls: BackboneClientTls): Promise<BackboneReply> {
  return new Promise((resolve, reject) => {
    const session = connect(`https://${endpoint.address}:${endpoint.port}`, {
      ca: readFileSync(tls.caCertPath),
      ...(tls.certPath ? { cert: readFileSync(tls.certPath) } : {}),
      ...(tls.keyPath ? { key: readFileSync(tls.keyPath) } : {}),
      servername: tls.servername,
    });
    const fail = (error: Error) => {
      session.destroy();
      reject(error);
    };
    session.on("error", fail);
    session.setTimeout(5000, () => fail(new Error(`timeout: ${path}`)));
    const { host, ...rest } = headers;
    const req = session.request({
      [constants.HTTP2_HEADER_METHOD]: "GET",
      [constants.HTTP2_HEADER_PATH]: path,
      [constants.HTTP2_HEADER_AUTHORITY]: host ?? `${endpoint.address}:${endpoint.port}`,
      ...rest,
    });
    req.on("error", fail);
    let status = 0;
    let replyHeaders: BackboneReply["headers"] = {};
    req.on("response", (received) => {
      status = Number(received[constants.HTTP2_HEADER_STATUS]);
      replyHeaders = Object.fromEntries(Object.entries(received).filter(([name]) => !name.startsWith(":")));
    });
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      const alpn = session.alpnProtocol;
      session.close();
      resolve({ status, headers: replyHeaders, body, alpn });
    });
    req.end();
  });
}
