// gRPC through the edge in real Envoy on loopback: a Node gRPC client (@grpc/grpc-js) calls the
// Profile service over h2c (prior knowledge) at a POP; the call crosses the backbone (h2 over mutual
// TLS) and the datacenter ingress to the app replica (h2c). The same region router routes it, and
// every error the edge answers itself is a gRPC status. A served call proves HTTP/2 up to the app:
// the replica answers gRPC only on HTTP/2.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { repoRoot } from "../../scripts/toolchain/paths.ts";
import { validateTopology } from "../../infra/topology/load.ts";
import { validRaw } from "../../infra/topology/test/fixtures.ts";
import { appContainer, ingressContainer } from "../../infra/topology/names.ts";
import { signToken } from "../../upstreams/tokens/sign.ts";
import { PROFILE_SERVICE } from "../../upstreams/grpc/profile-service.ts";
import { MAX_MESSAGE_BYTES } from "../../upstreams/grpc/wire.ts";
import { grpc, ProfileClient, type CallOutcome, type ProfileReply } from "../../upstreams/grpc/profile-client.ts";
import { startLoopbackEdge, type LoopbackEdge } from "../loopback-edge.ts";
import { get, route } from "./http-get.ts";

describe("gRPC through the edge (real Envoy)", () => {
  const raw = validRaw();
  raw.apps.push({ name: "profile", prefix: `/${PROFILE_SERVICE}`, protocol: "grpc", placement: "owner-only" });
  for (const region of raw.regions) region.datacenter.apps.profile = { replicas: 1 };
  // A short route timeout (each try gets a third of it) shows which of the two bounds a stream.
  raw.timeouts = { routeMs: 4000 };
  const topology = validateTopology(raw);
  const perTryMs = topology.timeouts.routeMs / 3;
  const tenantOf = (region: string) => topology.tenants.find((tenant) => tenant.region === region)!.host;
  let edge: LoopbackEdge;
  let north: ProfileClient;
  const token = (region: string) =>
    signToken({ user: `u-${region}`, region, ttlSeconds: 600, issuer: topology.jwt.issuer, audience: topology.jwt.audiences, key: edge.keys.privateKey });
  /**
   * Requests north-p1 routed to the clusters a call entering it can take (its datacenter, south's
   * POPs). Health checks are not routed requests, so only calls move these counters.
   */
  const routedFromNorth = async () => {
    const stats = await (await fetch(`${edge.adminUrl("north", "p1")}/stats?filter=^cluster\\.(profile-north|edge-router-south)\\.upstream_rq_total$`)).text();
    const counts = [...stats.matchAll(/^cluster\.(\S+)\.upstream_rq_total: (\d+)$/gm)].map((match) => [match[1], Number(match[2])] as const);
    assert.equal(counts.length, 2, `request counters: ${stats}`);
    return Object.fromEntries(counts);
  };
  const served = (call: CallOutcome<ProfileReply>) => call.replies.map((reply) => [reply.region, reply.hops, reply.user]);

  before(async () => {
    // north's discovery answers slowly, so a call of a tenant new to north waits for its lookup.
    edge = await startLoopbackEdge(topology, { discoveryDelayMs: { north: 150 } });
    north = new ProfileClient(edge.clientUrl("north", "p1"));
  });
  after(async () => {
    north?.close();
    await edge?.stop();
  });

  it("gRPC: a user of another region is served by the owner region with one sideways hop, in the reply and in x-edge-route", async () => {
    const call = await north.get({ token: token("south") });
    assert.equal(call.code, grpc.status.OK, call.details);
    assert.deepEqual(served(call), [["south", 1, "u-south"]]);
    assert.equal(call.replies[0]?.app, "profile");
    assert.equal(call.headers["x-edge-route"], "owner=south;source=jwt;pop=north-p1;hops=1");
    assert.equal(call.headers["x-edge-pop"], "north-p1", "the client sees the entry POP");
    const local = await north.get({ token: token("north") });
    assert.deepEqual(served(local), [["north", 0, "u-north"]]);
    assert.equal(local.headers["x-edge-route"], "owner=north;source=jwt;pop=north-p1;hops=0");
  });

  it("gRPC: without a token the tenant of :authority decides, looked up once and then cached", async () => {
    const first = await north.get({ authority: tenantOf("south") });
    assert.equal(first.code, grpc.status.OK, first.details);
    assert.deepEqual(served(first), [["south", 1, undefined]]);
    assert.match(first.headers["x-edge-route"] ?? "", /^owner=south;source=(lookup|cache);pop=north-p1;hops=1$/);
    const again = await north.get({ authority: tenantOf("south") });
    assert.equal(again.headers["x-edge-route"], "owner=south;source=cache;pop=north-p1;hops=1");
  });

  it("gRPC over TLS: h2 to the POP's TLS listener with the deploy's CA, routed by token and by the tenant of :authority", async () => {
    const secure = new ProfileClient(edge.tlsUrl("north", "p1"), { caPem: readFileSync(edge.publicPki.ca.certPath, "utf8") });
    try {
      const byToken = await secure.get({ token: token("south") });
      assert.equal(byToken.code, grpc.status.OK, byToken.details);
      assert.deepEqual(served(byToken), [["south", 1, "u-south"]]);
      const byTenant = await secure.get({ authority: tenantOf("south") });
      assert.equal(byTenant.code, grpc.status.OK, byTenant.details);
      assert.deepEqual(served(byTenant), [["south", 1, undefined]]);
      const forged = await secure.get({ token: "forged.token.value" });
      assert.equal(forged.code, grpc.status.UNAUTHENTICATED, "a forged token over TLS never reaches the app");
    } finally {
      secure.close();
    }
  });

  it("gRPC: a server stream crosses the sideways hop whole: every reply from the owner, in order, with hops 1", async () => {
    const call = await north.watch(5, 30, { token: token("south") });
    assert.equal(call.code, grpc.status.OK, call.details);
    assert.deepEqual(call.replies.map((reply) => [reply.sequence, reply.region, reply.hops, reply.path]), [1, 2, 3, 4, 5].map((n) => [n, "south", 1, `/${PROFILE_SERVICE}/Watch`]));
    assert.equal(call.headers["x-edge-route"], "owner=south;source=jwt;pop=north-p1;hops=1");
    assert.ok(call.ms >= 120, `5 replies 30 ms apart arrived in ${call.ms.toFixed(0)} ms: not buffered into one`);
  });

  it("gRPC: a 1 MiB message sent while the tenant lookup is pending waits for it (flow control, not a 413) and is served", async () => {
    const call = await north.get({ authority: tenantOf("north"), payloadBytes: 1024 * 1024 });
    assert.equal(call.code, grpc.status.OK, call.details);
    assert.equal(call.headers["x-edge-route"], "owner=north;source=lookup;pop=north-p1;hops=0");
    assert.ok(call.ms >= 150, `answered in ${call.ms.toFixed(0)} ms, before discovery did`);
  });

  it("gRPC: a stream may outlast one try's timeout (which applies until the response begins) but not the route timeout", async () => {
    const intervalMs = 300;
    const long = await north.watch(Math.ceil((perTryMs * 1.5) / intervalMs), intervalMs, { token: token("south") });
    assert.equal(long.code, grpc.status.OK, long.details);
    assert.ok(long.ms > perTryMs, `took ${long.ms.toFixed(0)} ms`);
    const tooLong = await north.watch(Math.ceil((topology.timeouts.routeMs * 1.25) / intervalMs), intervalMs, { token: token("south") });
    assert.equal(tooLong.code, grpc.status.INTERNAL, "reset by the entry POP at the route timeout");
    assert.ok(tooLong.replies.length > 0 && tooLong.ms < topology.timeouts.routeMs * 1.25, `${tooLong.replies.length} replies in ${tooLong.ms.toFixed(0)} ms`);
  });

  it("gRPC: a forged token is UNAUTHENTICATED at the entry POP and no app sees the call", async () => {
    const before = await routedFromNorth();
    assert.ok(before["edge-router-south"]! > 0, "the earlier calls of south's users were routed there");
    const [header, payload] = token("south").split(".");
    for (const forged of ["a.b.c", `${header}.${payload}.${Buffer.from("not the signature").toString("base64url")}`]) {
      const call = await north.get({ token: forged });
      assert.equal(call.code, grpc.status.UNAUTHENTICATED, `${forged}: ${call.details}`);
      assert.deepEqual(call.replies, []);
      assert.equal(call.trailers["content-type"], "application/grpc", "a gRPC answer, trailers-only");
    }
    assert.deepEqual(await routedFromNorth(), before, "the calls were never routed: no datacenter or peer POP saw them");
    const otherAudience = signToken({ user: "u-south", region: "south", ttlSeconds: 600, issuer: topology.jwt.issuer, audience: "another-api", key: edge.keys.privateKey });
    const denied = await north.get({ token: otherAudience });
    assert.equal(denied.code, grpc.status.PERMISSION_DENIED, `an audience mismatch is jwt_authn's 403: ${denied.details}`);
  });

  it("gRPC: a service no app serves is NOT_FOUND from the entry POP, with no_app in grpc-message", async () => {
    const call = await north.get({ token: token("south"), service: "nothing.v1.Elsewhere" });
    assert.equal(call.code, grpc.status.NOT_FOUND);
    assert.equal(call.details, "no_app: no app serves this path (pop=north-p1)");
    assert.equal(call.trailers["x-edge-pop"], "north-p1");
  });

  it("gRPC: an unknown method of the profile service reaches the owner's app, which answers UNIMPLEMENTED", async () => {
    const call = await north.get({ token: token("south"), method: "Delete" });
    assert.equal(call.code, grpc.status.UNIMPLEMENTED);
    assert.match(call.details, new RegExp(`^unknown method /${PROFILE_SERVICE.replaceAll(".", "\\.")}/Delete; `));
    assert.equal(call.trailers["x-edge-served"], "south", "the owner region's app answered");
    assert.equal(call.trailers["x-edge-route"], "owner=south;source=jwt;pop=north-p1;hops=1");
  });

  it("gRPC: a message over 4 MiB is RESOURCE_EXHAUSTED from the owner's app across the hop; a 4 MiB one is served", async () => {
    const atLimit = await north.get({ token: token("south"), payloadBytes: MAX_MESSAGE_BYTES - 5 });
    assert.equal(atLimit.code, grpc.status.OK, atLimit.details);
    assert.equal(atLimit.replies[0]?.receivedBytes, MAX_MESSAGE_BYTES);
    const over = await north.get({ token: token("south"), payloadBytes: 5 * 1024 * 1024 });
    assert.equal(over.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(over.details, new RegExp(`is over the limit of ${MAX_MESSAGE_BYTES} bytes$`));
    assert.equal(over.trailers["x-edge-served"], "south");
  });

  it("gRPC app: a plain HTTP request on its prefix gets the JSON every app gives (routing checks and HTTP sweeps)", async () => {
    const reply = await get(`${edge.clientUrl("north", "p1")}/${PROFILE_SERVICE}/Get`, { authorization: `Bearer ${token("south")}` });
    assert.equal(reply.status, 200, reply.body);
    const body = JSON.parse(reply.body) as { app: string; region: string; hops: number };
    assert.deepEqual([body.app, body.region, body.hops], ["profile", "south", 1]);
    assert.equal(route(reply).hops, "1");
  });

  it("npm run grpc: calls through a POP named in the outputs, for a user of a region or a tenant, and prints replies, route and status", async () => {
    const state = dirname(dirname(edge.keys.jwksPath));
    writeFileSync(join(state, "outputs.json"), JSON.stringify(edge.outputs()));
    const topologyFile = join(state, "topology.yaml");
    writeFileSync(topologyFile, stringify(raw));
    const cli = (...args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ["--import", "tsx", join(repoRoot, "upstreams/grpc/cli.ts"), ...args], { cwd: repoRoot, env: { ...process.env, EDGE_STATE_DIR: state, EDGE_TOPOLOGY: topologyFile } },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }));
    });
    const one = await cli("--pop", "north-p1", "--user", "u1", "--region", "south");
    assert.equal(one.code, 0, one.stderr);
    const [reply, routeLine, status] = one.stdout.trim().split("\n");
    assert.deepEqual(JSON.parse(reply!), {
      app: "profile", region: "south", datacenter: "south", instance: appContainer(topology.project, "profile", "south", 1), path: `/${PROFILE_SERVICE}/Get`, sequence: 0, receivedBytes: 0, hops: 1, user: "u1",
    });
    assert.equal(routeLine, "x-edge-route: owner=south;source=jwt;pop=north-p1;hops=1");
    assert.equal(status, "status: OK (0)");
    const stream = await cli("--pop", "north-p1", "--tenant", tenantOf("south"), "--watch", "3", "--interval-ms", "10");
    assert.equal(stream.code, 0, stream.stderr);
    assert.deepEqual(stream.stdout.trim().split("\n").slice(0, 3).map((line) => (JSON.parse(line) as { sequence: number }).sequence), [1, 2, 3]);
    const unknown = await cli("--url", edge.clientUrl("north", "p1"), "--tenant", "nobody.shop.test");
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout.trim(), "status: UNAVAILABLE (14): no_owner: unknown tenant (pop=north-p1)");
    const usage = await cli("--pop", "nowhere-p9");
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^grpc: unknown POP "nowhere-p9"; expected one of north-p1, north-p2, south-p1\n$/);
  });

  it("gRPC: a datacenter with no replica of the app answers UNAVAILABLE app_unavailable; through the POP it stays UNAVAILABLE", async () => {
    await edge.apps.get(appContainer(topology.project, "profile", "north", 1))!.close();
    const ingress = new ProfileClient(`http://127.0.0.1:${edge.placement.ingressListeners("north", 1).ingress.port}`);
    try {
      const direct = await ingress.get();
      assert.equal(direct.code, grpc.status.UNAVAILABLE);
      assert.equal(direct.details, "app_unavailable: no replica of the app is available (app=profile region=north)");
    } finally {
      ingress.close();
    }
    const call = await north.get({ token: token("north") });
    assert.equal(call.code, grpc.status.UNAVAILABLE);
    assert.match(call.details, /^(app_unavailable: no replica of the app is available|owner_unavailable: owner region unavailable) \(/);
    const http = await get(`${edge.clientUrl("north", "p1")}/${PROFILE_SERVICE}/Get`, { authorization: `Bearer ${token("north")}` });
    assert.equal(http.status, 503);
    assert.match((JSON.parse(http.body) as { error: string }).error, /^(app|owner)_unavailable$/, "plain HTTP still gets the JSON");
  });

  it("gRPC: the owner region's datacenter down: UNAVAILABLE with owner_unavailable naming region, app and the answering POP", async () => {
    edge.envoys.get(ingressContainer(topology.project, "south", 1))!.process.kill("SIGKILL");
    const deadline = Date.now() + 5000;
    let call = await north.get({ token: token("south") });
    // Until health checks notice (about 2 s) the backbone POP may still try the dead ingress: the same status either way.
    while (call.details.startsWith("owner_unavailable") === false && Date.now() < deadline) {
      assert.equal(call.code, grpc.status.UNAVAILABLE, call.details);
      await new Promise((resolve) => setTimeout(resolve, 200));
      call = await north.get({ token: token("south") });
    }
    assert.equal(call.code, grpc.status.UNAVAILABLE);
    assert.equal(call.details, "owner_unavailable: owner region unavailable (region=south app=profile pop=south-p1)");
    assert.equal(call.trailers["x-edge-route"], "owner=south;source=jwt;pop=north-p1;hops=1");
    assert.equal(call.trailers["x-edge-unserved"], undefined, "the internal mark never reaches the client");
  });
});
