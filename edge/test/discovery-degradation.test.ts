// Discovery in real Envoy on loopback when it is slow or gone: a slow service still in rotation costs
// one lookup timeout and gives the fallback outcome; a dead one is replaced by the next region's
// service (the discovery cluster's lower priority) within a few seconds.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { validateTopology } from "../../infra/topology/load.ts";
import { validRaw } from "../../infra/topology/test/fixtures.ts";
import { startLoopbackEdge, type LoopbackEdge } from "../loopback-edge.ts";
import { get } from "./http-get.ts";

const raw = validRaw();
raw.regions[0].pops = [raw.regions[0].pops[0]];
raw.routing = { fallback: { policy: "reject" }, maxHops: 1, discovery: { timeoutMs: 300, cacheTtlSeconds: 60, negativeCacheTtlSeconds: 60, failureBackoffMs: 0 } };
raw.tenants.push({ host: "first.shop.test", region: "south" }, { host: "second.shop.test", region: "south" }, { host: "third.shop.test", region: "north" });
const topology = validateTopology(raw);
const [north, south] = topology.regions as [(typeof topology.regions)[0], (typeof topology.regions)[0]];
const app = topology.apps[0]!;
// North's service answers lookups after twice the lookup timeout; its health checks stay fast, so it stays in rotation.
const slowMs = topology.routing.discovery.timeoutMs * 2;
let edge: LoopbackEdge;


const northPop = () => `${edge.clientUrl(north.name, north.pops[0]!.name)}${app.prefix}/d`;

before(async () => {
  edge = await startLoopbackEdge(topology, { discoveryDelayMs: { [north.name]: slowMs } });
});
after(async () => {
  await edge?.stop();
});

test("discovery slower than the lookup timeout: 503 no_owner once the timeout passed, not when discovery finally answers", async () => {
  const r = await get(northPop(), { host: "first.shop.test" });
  assert.equal(r.status, 503, r.body);
  assert.equal(JSON.parse(r.body).error, "no_owner");
  const { timeoutMs } = topology.routing.discovery;
  assert.ok(r.ms >= timeoutMs * 0.9, `answered after ${r.ms.toFixed(0)} ms, before the ${timeoutMs} ms timeout`);
  assert.ok(r.ms < slowMs, `answered after ${r.ms.toFixed(0)} ms: it waited for the slow discovery`);
});

test("discovery down: within 5 s the POP's lookups are answered by the next region's discovery service", async () => {
  await edge.discovery.get(north.name)!.close();
  const southLookups = edge.discovery.get(south.name)!.metrics().lookups;
  const deadline = Date.now() + 5000;
  let last = { status: 0, body: "", ms: 0 };
  while (Date.now() < deadline) {
    last = await get(northPop(), { host: "second.shop.test" });
    if (last.status === 200) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(last.status, 200, last.body);
  assert.equal(JSON.parse(last.body).region, south.name, "served by the tenant's owner");
  assert.ok(edge.discovery.get(south.name)!.metrics().lookups > southLookups, "the other region's discovery answered");
  const home = await get(northPop(), { host: "third.shop.test" });
  assert.equal(home.status, 200, home.body);
  assert.equal(JSON.parse(home.body).region, north.name);
});
