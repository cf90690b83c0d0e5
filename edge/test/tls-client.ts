// A bare TLS handshake against a POP's TLS listener, for the tests that look at what it serves.
import { X509Certificate } from "node:crypto";
import { connect as connectTls, type ConnectionOptions, type TLSSocket } from "node:tls";

/** The TLS handshake alone: what was negotiated and the certificate served, or the error. */
export function handshake(port: number, options: ConnectionOptions, host = "127.0.0.1"): Promise<{ socket: TLSSocket; cert: X509Certificate }> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host, port, ...options }, () => {
      const peer = socket.getPeerX509Certificate();
      if (!peer) return reject(new Error("no server certificate"));
      resolve({ socket, cert: peer });
    });
    socket.once("error", reject);
  });
}

