// The entry POP decides a request's owner once and the decision travels with it: real POP and
// ingress Envoys on 127.0.0.1 (two regions), with the owner region's discovery slower than the
// lookup timeout. Were the receiving POP to decide again, its lookup would time out and the
// fallback (back to the entry region) would hit the hop limit: 508 instead of the owner's answer.
import { backboneRequest } from "./backbone-client.ts";
import { get, route } from "./http-get.ts";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { validateTopology } from "../../infra/topology/load.ts";
import { validRaw } from "../../infra/topology/test/fixtures.ts";
import { OWNER_HEADER, SOURCE_HEADER } from "../headers.ts";
import { startLoopbackEdge, type LoopbackEdge } from "../loopback-edge.ts";

const LOOKUP_TIMEOUT_MS = 400;
const raw = validRaw();
raw.regions[0].pops = [raw.regions[0].pops[0]];
raw.routing = {
  fallback: { policy: "region", region: raw.regions[0].name },
  maxHops: 1,
  discovery: { timeoutMs: LOOKUP_TIMEOUT_MS, cacheTtlSeconds: 60, negativeCacheTtlSeconds: 60 },
};
const topology = validateTopology(raw);
const [entry, owner] = topology.regions as [(typeof topology.regions)[0], (typeof topology.regions)[0]];
const app = topology.apps[0]!;
const tenantOf = (region: string) => topology.tenants.find((t) => t.region === region)!.host;
let edge: LoopbackEdge;



const entryPop = () => entry.pops[0]!.name;
const ownerPop = () => owner.pops[0]!.name;
const lookups = (region: string) => edge.discovery.get(region)!.metrics().lookups;

/** A counter of the region router in a POP's Envoy, from its admin stats. */
async function routerCounter(region: string, pop: string, name: string): Promise<number> {
  const stats = await (await fetch(`${edge.adminUrl(region, pop)}/stats?filter=edge_router\\.${name.replaceAll(".", "\\.")}$`)).text();
  const match = /: (\d+)\s*$/m.exec(stats);
  assert.ok(match, `no counter ${name} in ${stats}`);
  return Number(match[1]);
}

before(async () => {
  edge = await startLoopbackEdge(topology, { discoveryDelayMs: { [owner.name]: LOOKUP_TIMEOUT_MS * 3 } });
});

after(async () => {
  await edge?.stop();
});

test("decide once: a tenant of another region is served there, and the receiving POP makes no discovery call", async () => {
  const before = { entry: lookups(entry.name), owner: lookups(owner.name) };
  const carriedBefore = await routerCounter(owner.name, ownerPop(), "carried");
  const r = await get(`${edge.clientUrl(entry.name, entryPop())}${app.prefix}/once`, { host: tenantOf(owner.name) });
  assert.equal(r.status, 200, r.body);
  const body = JSON.parse(r.body);
  assert.equal(body.region, owner.name);
  assert.equal(body.hops, 1);
  assert.deepEqual(route(r), { owner: owner.name, source: "lookup", pop: `${entry.name}-${entryPop()}`, hops: "1" });
  assert.equal(lookups(entry.name) - before.entry, 1, "the entry POP looked the tenant up once");
  assert.equal(lookups(owner.name) - before.owner, 0, "the receiving POP did not call its (slow) discovery");
  assert.equal(await routerCounter(owner.name, ownerPop(), "carried") - carriedBefore, 1);
  assert.equal(await routerCounter(owner.name, ownerPop(), "fallback"), 0);
});

test("decide once: a carried owner arriving on the backbone routes with no lookup, even for a host no tenant has", async () => {
  const before = lookups(owner.name);
  const r = await backboneRequest(edge.placement.popListeners(owner.name, ownerPop()).backbone, `${app.prefix}/carried`, {
    host: "nobody.example.test",
    [OWNER_HEADER]: owner.name,
    [SOURCE_HEADER]: "cache",
    "x-edge-hops": "1",
  }, edge.backbonePeer(owner.name, ownerPop()));
  assert.equal(r.status, 200, r.body);
  assert.equal(JSON.parse(r.body).region, owner.name);
  assert.equal(lookups(owner.name) - before, 0);
});

test("decide once: decision headers a client sends to the public listener are ignored", async () => {
  const before = lookups(entry.name);
  for (const spoofed of [owner.name, "mars"]) {
    const r = await get(`${edge.clientUrl(entry.name, entryPop())}${app.prefix}/spoof`, {
      host: tenantOf(entry.name),
      [OWNER_HEADER]: spoofed,
      [SOURCE_HEADER]: "jwt",
    });
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).region, entry.name, `x-edge-owner: ${spoofed} was honoured`);
    assert.equal(JSON.parse(r.body).hops, 0);
    assert.equal(route(r).owner, entry.name);
    assert.match(route(r).source ?? "", /^(lookup|cache)$/);
  }
  assert.equal(lookups(entry.name) - before, 1, "decided by a tenant lookup, then from the cache");
});
