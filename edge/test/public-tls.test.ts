// TLS on the POPs' public listeners, in real Envoy on loopback: versions, ALPN, names, what a
// cleartext client gets on either port, and a certificate rotation that restarts nothing.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect as connectH2 } from "node:http2";
import { request as httpsRequest } from "node:https";
import { connect as connectTcp } from "node:net";
import type { TLSSocket } from "node:tls";
import { validateTopology } from "../../infra/topology/load.ts";
import { validRaw } from "../../infra/topology/test/fixtures.ts";
import { popId, popPublicName } from "../../infra/topology/names.ts";
import { signToken } from "../../upstreams/tokens/sign.ts";
import { startLoopbackEdge, type LoopbackEdge } from "../loopback-edge.ts";
import { ensurePublicPki } from "../public-tls.ts";
import { get } from "./http-get.ts";
import { handshake } from "./tls-client.ts";

const tlsPort = (url: string) => Number(new URL(url).port);

interface TlsReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP/1.1 request over TLS (ALPN http/1.1), verified against `ca`. */
function httpsGet(url: string, ca: string, headers: Record<string, string>, servername?: string): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, headers, agent: false, timeout: 10_000, ...(servername ? { servername } : {}) }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** One HTTP/2 request over TLS (ALPN h2), verified against `ca`. */
function h2Get(origin: string, ca: string, path: string, headers: Record<string, string>): Promise<TlsReply & { alpn: string | undefined }> {
  return new Promise((resolve, reject) => {
    const session = connectH2(origin, { ca });
    session.once("error", reject);
    const stream = session.request({ ":path": path, ...headers });
    let status = 0;
    let received: Record<string, string | string[] | undefined> = {};
    let body = "";
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      received = h;
    });
    stream.on("data", (chunk: Buffer) => (body += chunk));
    stream.on("end", () => {
      const alpn = (session.socket as TLSSocket).alpnProtocol || undefined;
      session.close();
      resolve({ status, headers: received, body, alpn });
    });
    stream.on("error", reject);
    stream.end();
  });
}

/** Raw bytes a port sends back for `text`, until it closes (or 3 s pass). */
function rawExchange(port: number, text: string): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host: "127.0.0.1", port }, () => socket.write(text));
    let reply = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ reply, closed: false });
    }, 3000);
    socket.on("data", (chunk: Buffer) => (reply += chunk.toString("latin1")));
    const done = () => {
      clearTimeout(timer);
      resolve({ reply, closed: true });
    };
    socket.on("close", done);
    socket.on("error", () => undefined);
  });
}

describe("Public TLS in real Envoy", () => {
  const topology = validateTopology(validRaw());
  let edge: LoopbackEdge;
  let ca: string;
  const token = (region: string) =>
    signToken({ user: `u-${region}`, region, ttlSeconds: 600, issuer: topology.jwt.issuer, audience: topology.jwt.audiences, key: edge.keys.privateKey });
  const servedBy = (body: string) => (JSON.parse(body) as { region: string }).region;

  before(async () => {
    edge = await startLoopbackEdge(topology);
    ca = readFileSync(edge.publicPki.ca.certPath, "utf8");
  });
  after(async () => {
    await edge?.stop();
  });

  it("HTTPS with the deploy's CA: TLS 1.3, the POP's certificate from the public CA, the request routed to its owner", async () => {
    const { socket, cert } = await handshake(tlsPort(edge.tlsUrl("north", "p1")), { ca, servername: popPublicName(topology.tls.domain, "north", "p1") });
    assert.equal(socket.getProtocol(), "TLSv1.3");
    assert.equal(socket.authorized, true, String(socket.authorizationError));
    assert.match(cert.subject, new RegExp(`CN=${popPublicName(topology.tls.domain, "north", "p1")}`));
    assert.match(cert.issuer, /public CA/);
    socket.destroy();
    const reply = await httpsGet(`${edge.tlsUrl("north", "p1")}/cart/1`, ca, { authorization: `Bearer ${token("south")}` });
    assert.equal(reply.status, 200, reply.body);
    assert.equal(servedBy(reply.body), "south");
  });

  it("the public certificate names every tenant host and 127.0.0.1; a tenant's Host is routed to its region over TLS", async () => {
    const tenant = topology.tenants.find((candidate) => candidate.region === "south")!;
    const reply = await httpsGet(`${edge.tlsUrl("north", "p2")}/search/x`, ca, { host: tenant.host }, tenant.host);
    assert.equal(reply.status, 200, reply.body);
    assert.equal(servedBy(reply.body), "south");
    const byAddress = await httpsGet(`${edge.tlsUrl("north", "p2")}/cart/1`, ca, { authorization: `Bearer ${token("north")}` });
    assert.equal(byAddress.status, 200, byAddress.body);
  });

  it("ALPN h2: HTTP/2 over TLS end to end, routed like HTTP/1.1", async () => {
    const reply = await h2Get(edge.tlsUrl("south", "p1"), ca, "/cart/1", { authorization: `Bearer ${token("north")}` });
    assert.equal(reply.alpn, "h2");
    assert.equal(reply.status, 200, reply.body);
    assert.equal(servedBy(reply.body), "north");
  });

  it("TLS 1.2 is still accepted", async () => {
    const { socket } = await handshake(tlsPort(edge.tlsUrl("north", "p1")), { ca, servername: "localhost", maxVersion: "TLSv1.2" });
    assert.equal(socket.getProtocol(), "TLSv1.2");
    socket.destroy();
  });

  it("bad input: a TLS 1.0 or 1.1 client is refused in the handshake with a protocol_version alert", async () => {
    for (const version of ["TLSv1", "TLSv1.1"] as const) {
      // SECLEVEL=0 lets this client offer the old versions at all; the refusal must come from the POP.
      await assert.rejects(
        handshake(tlsPort(edge.tlsUrl("north", "p1")), { ca, servername: "localhost", minVersion: version, maxVersion: version, ciphers: "DEFAULT@SECLEVEL=0" }),
        (error: NodeJS.ErrnoException) => /PROTOCOL_VERSION|protocol version/i.test(`${error.code} ${error.message}`),
        `${version} refused`,
      );
    }
  });

  it("bad input: a client that offers no ALPN gets HTTP/1.1", async () => {
    const { socket } = await handshake(tlsPort(edge.tlsUrl("north", "p1")), { ca, servername: "localhost" });
    assert.equal(socket.alpnProtocol, false);
    const text = await new Promise<string>((resolve) => {
      let received = "";
      socket.on("data", (chunk: Buffer) => (received += chunk));
      socket.on("end", () => resolve(received));
      socket.write(`GET /cart/1 HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${token("north")}\r\nconnection: close\r\n\r\n`);
    });
    assert.match(text, /^HTTP\/1\.1 200 /);
  });

  it("bad input: SNI for an unknown name gets the POP's one certificate, which a verifying client refuses", async () => {
    const port = tlsPort(edge.tlsUrl("north", "p1"));
    const { socket, cert } = await handshake(port, { servername: "unknown.example", rejectUnauthorized: false });
    assert.match(cert.subject, new RegExp(`CN=${popPublicName(topology.tls.domain, "north", "p1")}`));
    socket.destroy();
    await assert.rejects(handshake(port, { ca, servername: "unknown.example" }), (error: NodeJS.ErrnoException) => error.code === "ERR_TLS_CERT_ALTNAME_INVALID");
  });

  it("bad input: cleartext HTTP sent to the TLS port gets no HTTP answer; the connection is closed", async () => {
    const { reply, closed } = await rawExchange(tlsPort(edge.tlsUrl("north", "p1")), "GET /cart/1 HTTP/1.1\r\nhost: localhost\r\n\r\n");
    assert.ok(closed, "the POP closed the connection");
    assert.doesNotMatch(reply, /^HTTP\//);
  });

  it("without redirectCleartext the cleartext port serves as before", async () => {
    const reply = await get(`${edge.clientUrl("north", "p1")}/cart/1`, { authorization: `Bearer ${token("south")}` });
    assert.equal(reply.status, 200, reply.body);
    assert.equal(servedBy(reply.body), "south", "routed to the token's region, not redirected");
  });

  it("rotation: new certificates are served within 5 s with no restart and no failed request", async () => {
    const port = tlsPort(edge.tlsUrl("north", "p1"));
    const serial = async () => (await handshake(port, { ca, servername: "localhost" })).cert.serialNumber;
    const before = await serial();
    const pid = edge.envoys.get(popId("north", "p1"))!.process.pid;
    let failed = 0;
    let sent = 0;
    let load = true;
    const traffic = (async () => {
      while (load) {
        sent++;
        const reply = await httpsGet(`${edge.tlsUrl("north", "p1")}/cart/1`, ca, { authorization: `Bearer ${token("north")}` }).catch(() => null);
        if (reply?.status !== 200) failed++;
      }
    })();
    ensurePublicPki(topology, edge.publicPki.dir, { reissue: true });
    const deadline = Date.now() + 5000;
    let after = before;
    while (after === before) {
      assert.ok(Date.now() < deadline, "a new serial within 5 s");
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await serial();
    }
    load = false;
    await traffic;
    assert.notEqual(after, before);
    assert.equal(edge.envoys.get(popId("north", "p1"))!.process.pid, pid, "the same Envoy process");
    assert.equal(edge.envoys.get(popId("north", "p1"))!.process.exitCode, null);
    assert.ok(sent > 0);
    assert.equal(failed, 0, `${failed} of ${sent} requests failed during the rotation`);
  });
});

describe("Public TLS in real Envoy: redirectCleartext", () => {
  const raw = validRaw();
  raw.tls = { redirectCleartext: true };
  const topology = validateTopology(raw);
  let edge: LoopbackEdge;

  before(async () => {
    edge = await startLoopbackEdge(topology);
  });
  after(async () => {
    await edge?.stop();
  });

  it("the cleartext port answers 301 to the same host and path on the POP's TLS port, for any method and token", async () => {
    const tenant = topology.tenants[0]!;
    const port = tlsPort(edge.tlsUrl("north", "p1"));
    const variants: Record<string, string>[] = [{ host: tenant.host }, { host: tenant.host, authorization: "Bearer forged.token.value" }];
    for (const headers of variants) {
      const reply = await get(`${edge.clientUrl("north", "p1")}/cart/1?x=1`, headers);
      assert.equal(reply.status, 301, reply.body);
      assert.equal(reply.headers.location, `https://${tenant.host}:${port}/cart/1?x=1`);
    }
  });

  it("except /edge/healthz, which the cleartext port answers itself", async () => {
    const reply = await get(`${edge.clientUrl("north", "p1")}/edge/healthz`, {});
    assert.equal(reply.status, 200, reply.body);
  });

  it("the TLS port serves", async () => {
    const ca = readFileSync(edge.publicPki.ca.certPath, "utf8");
    const token = signToken({ user: "u", region: "south", ttlSeconds: 600, issuer: topology.jwt.issuer, audience: topology.jwt.audiences, key: edge.keys.privateKey });
    const reply = await httpsGet(`${edge.tlsUrl("north", "p1")}/cart/1`, ca, { authorization: `Bearer ${token}` });
    assert.equal(reply.status, 200, reply.body);
    assert.equal((JSON.parse(reply.body) as { region: string }).region, "south");
  });
});
