// The mTLS backbone in real Envoy: two loopback regions from the generated bootstraps. A backbone
// listener serves only a client holding a current certificate of the backbone CA that names a POP
// of the topology, and sideways hops between POPs run over that TLS.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:http";
import { validateTopology } from "../../infra/topology/load.ts";
import { validRaw } from "../../infra/topology/test/fixtures.ts";
import { peerCluster, popId, popSpiffeId } from "../../infra/topology/names.ts";
import { signToken } from "../../upstreams/tokens/sign.ts";
import { createCa, issueCertificate, popSubject, type CertificateFiles, type CertificateSubject, type Validity } from "../backbone-pki.ts";
import { startLoopbackEdge, type LoopbackEdge } from "../loopback-edge.ts";
import { backboneRequest, type BackboneClientTls } from "./backbone-client.ts";

const raw = validRaw();
raw.regions[0].pops = [raw.regions[0].pops[0]];
const topology = validateTopology(raw);
const [north, south] = topology.regions as [(typeof topology.regions)[0], (typeof topology.regions)[0]];
const northPop = north.pops[0]!.name;
const southPop = south.pops[0]!.name;
const app = topology.apps[0]!;
const DAY_MS = 86_400_000;

let edge: LoopbackEdge;
const scratch = mkdtempSync(join(tmpdir(), "edgerim-backbone-tls-"));

before(async () => {
  edge = await startLoopbackEdge(topology);
});

after(async () => {
  await edge?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** A counter from a POP's admin API; 0 when Envoy has not created it yet. */
async function counter(region: string, pop: string, name: string): Promise<number> {
  const res = await fetch(`${edge.adminUrl(region, pop)}/stats?filter=${encodeURIComponent(`^${name.replaceAll(".", "\\.")}$`)}`);
  const line = (await res.text()).split("\n").find((candidate) => candidate.startsWith(`${name}: `));
  return line === undefined ? 0 : Number(line.slice(name.length + 2));
}

const southBackbone = () => edge.placement.popListeners(south.name, southPop).backbone;
const southListenerStat = (stat: string) => `listener.127.0.0.1_${southBackbone().port}.ssl.${stat}`;

/** Client TLS towards south's backbone presenting `files` (or no certificate). */
function presenting(files?: CertificateFiles): BackboneClientTls {
  const peer = edge.backbonePeer(south.name, southPop);
  return { caCertPath: peer.caCertPath, servername: peer.servername, ...(files ? { certPath: files.certPath, keyPath: files.keyPath } : {}) };
}

function issue(name: string, ca: CertificateFiles, subject: CertificateSubject, validity: Validity): CertificateFiles {
  const files = { certPath: join(scratch, `${name}.crt`), keyPath: join(scratch, `${name}.key`) };
  issueCertificate(ca, files, subject, validity);
  return files;
}

/** The request fails in the TLS handshake, and south's listener counts it under `stat`. */
async function assertRefusedAtTls(tls: BackboneClientTls, stat: string, alert: RegExp): Promise<void> {
  const before = await counter(south.name, southPop, southListenerStat(stat));
  const handshakes = await counter(south.name, southPop, southListenerStat("handshake"));
  await assert.rejects(backboneRequest(southBackbone(), "/edge/healthz", {}, tls), (error: NodeJS.ErrnoException) => {
    assert.match(`${error.code} ${error.message}`, alert);
    return true;
  });
  assert.equal(await counter(south.name, southPop, southListenerStat(stat)), before + 1, stat);
  assert.equal(await counter(south.name, southPop, southListenerStat("handshake")), handshakes, "no handshake completed");
}

describe("backbone mTLS in Envoy", () => {
  it("Backbone: a connection without a client certificate is refused in the TLS handshake", async () => {
    await assertRefusedAtTls(presenting(), "fail_verify_no_cert", /CERTIFICATE_REQUIRED|certificate required/i);
  });

  it("Backbone: a certificate naming a POP but issued by another CA is refused", async () => {
    const impostorCa = { certPath: join(scratch, "impostor-ca.crt"), keyPath: join(scratch, "impostor-ca.key") };
    createCa(impostorCa, "impostor CA", 30);
    const forged = issue("forged", impostorCa, popSubject(topology.project, north.name, northPop), { days: 30 });
    await assertRefusedAtTls(presenting(forged), "fail_verify_error", /UNKNOWN_CA|unknown ca/i);
  });

  it("Backbone: an expired certificate of a POP from the backbone CA is refused", async () => {
    const now = Date.now();
    const expired = issue("expired", edge.pki.ca, popSubject(topology.project, north.name, northPop), {
      notBefore: new Date(now - 2 * DAY_MS),
      notAfter: new Date(now - DAY_MS),
    });
    await assertRefusedAtTls(presenting(expired), "fail_verify_error", /CERTIFICATE_EXPIRED|certificate expired/i);
  });

  it("Backbone: a certificate from the backbone CA naming no POP of the topology is refused", async () => {
    const stranger = issue("stranger", edge.pki.ca, { commonName: "stranger", uris: [popSpiffeId(topology.project, "elsewhere", "x1")], dnsNames: [] }, { days: 30 });
    await assertRefusedAtTls(presenting(stranger), "fail_verify_san", /alert|ECONNRESET|socket hang up/i);
  });

  it("Backbone: a peer POP's certificate is served, over h2", async () => {
    const northCert = edge.pki.pop(north.name, northPop);
    const handshakes = await counter(south.name, southPop, southListenerStat("handshake"));
    const reply = await backboneRequest(southBackbone(), "/edge/healthz", {}, presenting(northCert));
    assert.equal(reply.status, 200);
    assert.equal(reply.body, "ok\n");
    assert.equal(reply.alpn, "h2");
    assert.ok((await counter(south.name, southPop, southListenerStat("handshake"))) > handshakes);
  });

  it("Backbone: a sideways hop between two POPs runs over mTLS and is served by the owner region (hops=1)", async () => {
    const cluster = `cluster.${peerCluster(south.name)}`;
    const requestsBefore = await counter(north.name, northPop, `${cluster}.upstream_rq_total`);
    const token = signToken({ user: "u-south", region: south.name, ttlSeconds: 600, issuer: topology.jwt.issuer, audience: topology.jwt.audiences, key: edge.keys.privateKey });
    const reply = await new Promise<{ status: number; body: string; route: string }>((resolve, reject) => {
      const req = request(`${edge.clientUrl(north.name, northPop)}${app.prefix}/tls`, { headers: { authorization: `Bearer ${token}` }, agent: false, timeout: 10_000 }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, route: String(res.headers["x-edge-route"]) }));
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(reply.status, 200, reply.body);
    const served = JSON.parse(reply.body) as { region: string; hops: number };
    assert.equal(served.region, south.name);
    assert.equal(served.hops, 1);
    assert.match(reply.route, new RegExp(`^owner=${south.name};source=jwt;pop=${popId(north.name, northPop)};hops=1$`));
    assert.equal(await counter(north.name, northPop, `${cluster}.upstream_rq_total`), requestsBefore + 1, "the hop went through the peer cluster");
    assert.ok((await counter(north.name, northPop, `${cluster}.ssl.handshake`)) > 0, "the peer cluster speaks TLS");
    assert.equal(await counter(north.name, northPop, `${cluster}.ssl.fail_verify_san`), 0);
  });
});
