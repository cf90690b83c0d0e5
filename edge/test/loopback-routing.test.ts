// The whole edge in real Envoy, no Docker: two regions on 127.0.0.1, POPs and datacenter ingress from the
// generated bootstraps with the built filter, real app replicas and discovery services behind them.
// pop-live.test.ts covers what a client or peer can spoof; this covers where requests end up.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { validateTopology } from "../../infra/topology/load.ts";
import { validRaw } from "../../infra/topology/test/fixtures.ts";
import { signToken } from "../../upstreams/tokens/sign.ts";
import { startLoopbackEdge, type LoopbackEdge } from "../loopback-edge.ts";
import { backboneRequest } from "./backbone-client.ts";
import { get, route } from "./http-get.ts";

const raw = validRaw();
raw.regions[0].pops = [raw.regions[0].pops[0]];
raw.routing = { fallback: { policy: "reject" }, maxHops: 1, discovery: { timeoutMs: 400, cacheTtlSeconds: 60, negativeCacheTtlSeconds: 60 } };
raw.tenants.push({ host: "slow.shop.test", region: "south" });
const topology = validateTopology(raw);
const [north, south] = topology.regions as [(typeof topology.regions)[0], (typeof topology.regions)[0]];
const app = topology.apps[0]!;
const tenantOf = (region: string) => topology.tenants.find((t) => t.region === region)!.host;
let edge: LoopbackEdge;



const token = (region: string, ttl = 600) =>
  signToken({ user: `u-${region}`, region, ttlSeconds: ttl, issuer: topology.jwt.issuer, audience: topology.jwt.audiences, key: edge.keys.privateKey });
const northPop = () => edge.clientUrl(north.name, north.pops[0]!.name);
const southPop = () => edge.clientUrl(south.name, south.pops[0]!.name);

before(async () => {
  edge = await startLoopbackEdge(topology, { discoveryDelayMs: {} });
});

after(async () => {
  await edge?.stop();
});

test("loopback: a user of this POP's region is served by the local datacenter (hops=0, source=jwt)", async () => {
  const r = await get(`${northPop()}${app.prefix}/a`, { authorization: `Bearer ${token(north.name)}` });
  assert.equal(r.status, 200, r.body);
  const body = JSON.parse(r.body);
  assert.equal(body.region, north.name);
  assert.equal(body.app, app.name);
  assert.equal(body.hops, 0);
  assert.deepEqual(route(r), { owner: north.name, source: "jwt", pop: `${north.name}-${north.pops[0]!.name}`, hops: "0" });
});

test("loopback: a user of another region takes one sideways hop and is served there (hops=1)", async () => {
  const r = await get(`${northPop()}${app.prefix}/b`, { authorization: `Bearer ${token(south.name)}` });
  assert.equal(r.status, 200, r.body);
  const body = JSON.parse(r.body);
  assert.equal(body.region, south.name);
  assert.equal(body.hops, 1);
  assert.equal(route(r).owner, south.name);
  assert.equal(route(r).hops, "1");
  assert.equal(r.headers["x-edge-pop"], `${north.name}-${north.pops[0]!.name}`, "the client sees the entry POP");
});

test("loopback: a tenant host is looked up once in discovery, then served from the cache", async () => {
  const discovery = edge.discovery.get(north.name)!;
  const before = discovery.metrics().lookups;
  const host = tenantOf(north.name);
  const first = await get(`${northPop()}${app.prefix}/c`, { host });
  const second = await get(`${northPop()}${app.prefix}/c`, { host });
  assert.equal(first.status, 200, first.body);
  assert.equal(second.status, 200, second.body);
  assert.equal(route(first).source, "lookup");
  assert.equal(route(second).source, "cache");
  assert.equal(discovery.metrics().lookups - before, 1, "discovery was called exactly once");
  assert.equal(JSON.parse(second.body).region, north.name);
});

test("loopback: a tenant of another region is looked up and forwarded sideways", async () => {
  const r = await get(`${northPop()}${app.prefix}/d`, { host: tenantOf(south.name) });
  assert.equal(r.status, 200, r.body);
  assert.equal(JSON.parse(r.body).region, south.name);
  assert.equal(route(r).hops, "1");
});

test("loopback: every discovery service down -> the fallback outcome (503 no_owner) within the lookup timeout", async () => {
  // Each region's discovery is another's fallback (lower priority), so only all of them down leaves no answer.
  for (const discovery of edge.discovery.values()) await discovery.close();
  const r = await get(`${southPop()}${app.prefix}/e`, { host: "slow.shop.test" });
  assert.equal(r.status, 503, r.body);
  assert.equal(JSON.parse(r.body).error, "no_owner");
  assert.ok(r.ms < topology.routing.discovery.timeoutMs + 1000, `answered after ${r.ms.toFixed(0)} ms`);
});

test("loopback: a request arriving on the backbone at maxHops for another region is refused with 508", async () => {
  const southPop0 = south.pops[0]!.name;
  const r = await backboneRequest(edge.placement.popListeners(south.name, southPop0).backbone, `${app.prefix}/g`, {
    authorization: `Bearer ${token(north.name)}`,
    "x-edge-hops": String(topology.routing.maxHops),
  }, edge.backbonePeer(south.name, southPop0));
  assert.equal(r.status, 508, r.body);
  assert.equal(JSON.parse(r.body).error, "loop_detected");
});

test("loopback: jwt_authn allows 60 s of clock skew: a token expired 20 s ago is served, one expired 100 s ago is refused with 401", async () => {
  const withinSkew = await get(`${northPop()}${app.prefix}/h`, { authorization: `Bearer ${token(north.name, -20)}` });
  assert.equal(withinSkew.status, 200, withinSkew.body);
  const expired = await get(`${northPop()}${app.prefix}/h`, { authorization: `Bearer ${token(north.name, -100)}` });
  assert.equal(expired.status, 401);
});
