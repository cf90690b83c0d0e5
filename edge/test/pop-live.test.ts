import { waitClustersHealthy } from "../cluster-health.ts";
import { SERVICE_HEALTH_PATH } from "../../infra/topology/names.ts";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createSign, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttp1Server, request as httpRequest, type Server } from "node:http";
import { createServer as createH2cServer, type Http2Server } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { validateTopology } from "../../infra/topology/load.ts";
import { popContainer } from "../../infra/topology/names.ts";
import { toolPath } from "../../scripts/toolchain/paths.ts";
import { backboneTlsPaths, ensureBackbonePki, type BackbonePki } from "../backbone-pki.ts";
import { renderProxies, writeProxies } from "../bootstraps.ts";
import { ensureFilterWasm } from "../envoy-validation.ts";
import { loopbackPlacement, type Endpoint, type Placement } from "../placement.ts";
import { freePorts } from "../loopback-edge.ts";
import { backboneRequest, type BackboneClientTls } from "./backbone-client.ts";
import { ensurePublicPki } from "../public-tls.ts";
import { writeJwtAuthn } from "../jwt-authn.ts";
import type { PublicJwk } from "../../upstreams/tokens/keys.ts";

/**
 * Two POPs rendered for loopback run as real Envoy processes with the built region router. Each
 * region's datacenter ingress is a recorder that answers with the request headers it received, so
 * the test sees what the edge forwards; each discovery service follows the discovery API and
 * counts lookups.
 */

const topology = validateTopology({
  project: "live",
  jwt: { issuer: "https://login.live.test", audiences: ["live-api"] },
  apps: [{ name: "cart", prefix: "/cart" }],
  regions: [
    { name: "north", jurisdiction: "eu", pops: [{ name: "p1", clientPort: 28001, statsPort: 29001, tlsPort: 28301 }], datacenter: { apps: { cart: { replicas: 1 } } } },
    { name: "south", jurisdiction: "us", pops: [{ name: "p1", clientPort: 28011, statsPort: 29011, tlsPort: 28311 }], datacenter: { apps: { cart: { replicas: 1 } } } },
  ],
  tenants: [
    { host: "alpha.live.test", region: "north" },
    { host: "beta.live.test", region: "south" },
  ],
});
const tenants = new Map(topology.tenants.map((tenant) => [tenant.host, tenant.region]));

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(endpoint: Endpoint, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: endpoint.address, port: endpoint.port, path, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error(`timeout: ${path}`)));
    req.end();
  });
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString("base64url");
}

function signToken(key: KeyObject, kid: string, claims: Record<string, unknown>): string {
  const unsigned = `${base64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid }))}.${base64url(JSON.stringify(claims))}`;
  const signature = createSign("RSA-SHA256").update(unsigned).sign(key);
  return `${unsigned}.${base64url(signature)}`;
}

/** Header values a datacenter received, as recorded by its ingress recorder. */
interface Recorded {
  region: string;
  headers: Record<string, string>;
}

describe("POP bootstraps running in Envoy with the region router", () => {
  const scratch = mkdtempSync(join(tmpdir(), "edgerim-pop-live-"));
  const processes: ChildProcess[] = [];
  const servers: (Server | Http2Server)[] = [];
  const lookups = new Map<string, number>();
  const logs: string[] = [];
  let placement: Placement;
  let pki: BackbonePki;
  /** TLS of the other region's POP calling `region`'s backbone: the only peer a backbone listener serves. */
  const peerOf = (region: "north" | "south"): BackboneClientTls => {
    const caller = pki.pop(region === "north" ? "south" : "north", "p1");
    return { caCertPath: pki.ca.certPath, certPath: caller.certPath, keyPath: caller.keyPath, servername: popContainer(topology.project, region, "p1") };
  };
  const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const forger = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const claims = (region: string) => ({
    iss: topology.jwt.issuer,
    aud: topology.jwt.audiences[0],
    sub: "user-7",
    region,
    exp: Math.floor(Date.now() / 1000) + 600,
  });
  const bearer = (region: string, key: KeyObject = keys.privateKey) => `Bearer ${signToken(key, "live-key", claims(region))}`;

  before(async () => {
    const envoy = toolPath("envoy");
    const wasmPath = ensureFilterWasm();
    const needed = topology.regions.reduce(
      (sum, region) => sum + region.pops.length * 5 + region.datacenter.ingressReplicas * 3 + topology.apps.length + 1,
      0,
    );
    const ports = await freePorts(needed);
    placement = loopbackPlacement(topology, () => {
      const port = ports.shift();
      assert.ok(port !== undefined, "allocate more ports");
      return port;
    });
    const jwtAuthn = writeJwtAuthn(join(scratch, "jwt"), topology, { keys: [{ ...keys.publicKey.export({ format: "jwk" }), kid: "live-key", alg: "RS256", use: "sig" } as PublicJwk] });

    for (const region of topology.regions) {
      const ingress = createH2cServer((req, res) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers[name] = value;
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ region: region.name, headers } satisfies Recorded));
      });
      const discovery = createHttp1Server((req, res) => {
        if (req.url === SERVICE_HEALTH_PATH) {
          res.end("ok\n");
          return;
        }
        const host = decodeURIComponent((req.url ?? "").replace(/^\/v1\/tenants\//, "")).toLowerCase().replace(/:\d+$/, "");
        lookups.set(region.name, (lookups.get(region.name) ?? 0) + 1);
        const owner = tenants.get(host);
        res.writeHead(owner ? 200 : 404, { "content-type": "application/json" });
        res.end(JSON.stringify(owner ? { host, region: owner } : { error: "unknown_tenant" }));
      });
      const [ingressAt] = placement.ingressEndpoints(region.name);
      assert.ok(ingressAt);
      const discoveryAt = placement.discoveryEndpoint(region.name);
      await new Promise<void>((resolve) => ingress.listen(ingressAt.port, ingressAt.address, resolve));
      await new Promise<void>((resolve) => discovery.listen(discoveryAt.port, discoveryAt.address, resolve));
      servers.push(ingress, discovery);
    }

    pki = ensureBackbonePki(topology, join(scratch, "backbone"));
    const inputs = { wasmPath, jwtAuthn, topologyPath: "inline", backboneTls: backboneTlsPaths(pki), publicTls: ensurePublicPki(topology, join(scratch, "public-tls")).sdsFile };
    const files = writeProxies(scratch, renderProxies(topology, placement, inputs).filter((proxy) => proxy.kind === "pop"), inputs);
    for (const file of files) {
      const child = spawn(envoy, ["-c", file, "--disable-hot-restart", "--concurrency", "1", "--log-level", "warn"], { stdio: ["ignore", "pipe", "pipe"] });
      child.stdout?.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
      child.stderr?.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
      processes.push(child);
    }
    const deadline = Date.now() + 20_000;
    for (const region of topology.regions) {
      for (const pop of region.pops) {
        const stats = placement.popListeners(region.name, pop.name).stats;
        for (;;) {
          const ready = await send(stats, "/ready").catch(() => undefined);
          if (ready?.status === 200) break;
          if (Date.now() > deadline) throw new Error(`POP ${region.name}-${pop.name} not ready:\n${logs.join("")}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const admin = placement.popListeners(region.name, pop.name).admin;
        await waitClustersHealthy(`http://${admin.address}:${admin.port}`, Math.max(deadline - Date.now(), 1000));
      }
    }
  });

  after(async () => {
    for (const child of processes) child.kill("SIGKILL");
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    rmSync(scratch, { recursive: true, force: true });
  });

  const north = () => placement.popListeners("north", "p1");
  const south = () => placement.popListeners("south", "p1");

  it("Public listener: a client cannot set any internal header; the verified claim decides", async () => {
    const reply = await send(north().client, "/cart/items", {
      authorization: bearer("north"),
      "x-edge-user-region": "south",
      "x-edge-cluster": "edge-router-south",
      "x-edge-hops": "7",
      "x-edge-anything": "spoofed",
    });
    assert.equal(reply.status, 200, reply.body);
    const recorded = JSON.parse(reply.body) as Recorded;
    assert.equal(recorded.region, "north");
    assert.equal(recorded.headers["x-edge-user-region"], "north");
    assert.equal(recorded.headers["x-edge-cluster"], "cart-north");
    assert.notEqual(recorded.headers["x-edge-hops"], "7");
    assert.equal(recorded.headers["x-edge-anything"], undefined);
    assert.equal(reply.headers["x-edge-pop"], "north-p1");
  });

  it("Backbone: a sideways request keeps its hop count and is decided again by the owner region", async () => {
    const reply = await send(north().client, "/cart/items", { authorization: bearer("south") });
    assert.equal(reply.status, 200, reply.body);
    const recorded = JSON.parse(reply.body) as Recorded;
    assert.equal(recorded.region, "south");
    assert.equal(recorded.headers["x-edge-hops"], "1");
    assert.equal(recorded.headers["x-edge-cluster"], "cart-south");
    assert.equal(recorded.headers["x-edge-user-region"], "south");
    assert.equal(reply.headers["x-edge-pop"], "north-p1", "the client sees the entry POP");
    assert.match(String(reply.headers["x-edge-route"]), /^owner=south;source=jwt;pop=north-p1;hops=1$/);
  });

  it("Backbone: a peer cannot choose the cluster or assert a claim", async () => {
    const reply = await backboneRequest(south().backbone, "/cart/items", {
      "x-edge-hops": "1",
      "x-edge-cluster": "discovery",
      "x-edge-user-region": "north",
      host: "beta.live.test",
    }, peerOf("south"));
    assert.equal(reply.status, 200, reply.body);
    const recorded = JSON.parse(reply.body) as Recorded;
    assert.equal(recorded.region, "south");
    assert.equal(recorded.headers["x-edge-cluster"], "cart-south");
    assert.equal(recorded.headers["x-edge-user-region"], undefined);
  });

  it("JWT: a forged token is rejected with 401 before routing", async () => {
    const reply = await send(north().client, "/cart/items", { authorization: bearer("north", forger.privateKey) });
    assert.equal(reply.status, 401);
    assert.equal(reply.headers["x-edge-pop"], undefined, "the router never ran");
  });

  it("Discovery: without a token the tenant owns the request, looked up once and then cached", async () => {
    const before = lookups.get("north") ?? 0;
    const first = await send(north().client, "/cart/a", { host: "beta.live.test", "x-edge-user-region": "north" });
    const second = await send(north().client, "/cart/b", { host: "beta.live.test" });
    assert.equal(first.status, 200, first.body);
    assert.equal((JSON.parse(first.body) as Recorded).region, "south");
    assert.equal((JSON.parse(second.body) as Recorded).region, "south");
    assert.equal((lookups.get("north") ?? 0) - before, 1);
    assert.match(String(first.headers["x-edge-route"]), /source=lookup/);
    assert.match(String(second.headers["x-edge-route"]), /source=cache/);
  });

  it("Backbone: answers its health path itself; the public listener does not", async () => {
    const health = await backboneRequest(north().backbone, "/edge/healthz", {}, peerOf("north"));
    assert.equal(health.status, 200);
    assert.equal(health.body, "ok\n");
    const publicHealth = await send(north().client, "/edge/healthz");
    // The router lets the health path through untouched; the public listener has no route for it.
    assert.equal(publicHealth.status, 404);
    assert.notEqual(publicHealth.body, "ok\n");
    assert.equal(publicHealth.headers["x-edge-route"], undefined);
  });

  it("Stats listener: exposes metrics and readiness, nothing else of the admin API", async () => {
    const metrics = await send(north().stats, "/stats/prometheus");
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^envoy_cluster_upstream_rq_total\{envoy_cluster_name="edge-router-south"\} \d+$/m);
    assert.equal((await send(north().stats, "/ready")).body.trim(), "LIVE");
    for (const path of ["/config_dump", "/clusters", "/quitquitquit", "/stats", "/stats/prometheus/../../config_dump"]) {
      assert.equal((await send(north().stats, path)).status, 404, path);
    }
  });

  it("Hardening: a header with an underscore is rejected", async () => {
    const reply = await send(north().client, "/cart/items", { x_user: "1", host: "alpha.live.test" });
    assert.equal(reply.status, 400);
  });
});
