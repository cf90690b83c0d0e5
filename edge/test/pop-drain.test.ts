// A POP drained before its replacement, in real Envoy on loopback: after the admin's
// /healthcheck/fail its peers take it out of rotation at once, so stopping it then fails no request
// that another region forwards to its region.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { validateTopology } from "../../infra/topology/load.ts";
import { validRaw } from "../../infra/topology/test/fixtures.ts";
import { peerCluster, popId } from "../../infra/topology/names.ts";
import { get } from "../../infra/commands/http-probe.ts";
import { healthyMembers } from "../../infra/commands/peer-rotation.ts";
import { signToken } from "../../upstreams/tokens/sign.ts";
import { startLoopbackEdge, type LoopbackEdge } from "../loopback-edge.ts";
import { PEER_DRAIN_MS } from "../failover.ts";

describe("Draining a POP in real Envoy", () => {
  const topology = validateTopology(validRaw());
  let edge: LoopbackEdge;
  const token = (region: string) =>
    signToken({ user: `u-${region}`, region, ttlSeconds: 600, issuer: topology.jwt.issuer, audience: topology.jwt.audiences, key: edge.keys.privateKey });
  /** Healthy members of north's peer cluster as south-p1 counts them. */
  const northSeenFromSouth = async () =>
    healthyMembers((await get(`${edge.statsUrl("south", "p1")}/stats/prometheus`)).body, peerCluster("north"));

  before(async () => {
    edge = await startLoopbackEdge(topology);
  });
  after(async () => {
    await edge?.stop();
  });

  it("drain: out of the peers' rotation within 1 s of /healthcheck/fail; stopped once their checks agree, no forwarded request fails; back once restarted", async () => {
    const deadline = Date.now() + 10_000;
    while ((await northSeenFromSouth()) !== 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await northSeenFromSouth(), 2, "south-p1 counts both north POPs healthy first");
    const results: { status: number; region?: string; atMs: number; body?: string }[] = [];
    const t0 = Date.now();
    let load = true;
    const traffic = (async () => {
      while (load) {
        const reply = await get(`${edge.clientUrl("south", "p1")}/cart/1`, { authorization: `Bearer ${token("north")}` }).catch(() => undefined);
        results.push({ status: reply?.status ?? 0, region: reply?.status === 200 ? reply.json<{ region: string }>().region : undefined, atMs: Date.now() - t0, body: reply?.status === 200 ? undefined : reply?.body });
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const drainedAt = Date.now();
    const fail = await fetch(`${edge.adminUrl("north", "p1")}/healthcheck/fail`, { method: "POST" });
    assert.equal(fail.status, 200);
    let seen = await northSeenFromSouth();
    while (seen !== 1 && Date.now() - drainedAt < 5000) {
      await new Promise((r) => setTimeout(r, 50));
      seen = await northSeenFromSouth();
    }
    const outAfterMs = Date.now() - drainedAt;
    assert.equal(seen, 1, "south-p1 took the drained POP out");
    assert.ok(outAfterMs < 1000, `out of rotation after ${outAfterMs} ms`);
    await new Promise((r) => setTimeout(r, PEER_DRAIN_MS));
    edge.envoys.get(popId("north", "p1"))!.process.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 1500));
    await edge.restart(popId("north", "p1"));
    const back = Date.now() + 10_000;
    while ((await northSeenFromSouth()) !== 2 && Date.now() < back) await new Promise((r) => setTimeout(r, 100));
    load = false;
    await traffic;
    assert.equal(await northSeenFromSouth(), 2, "the restarted POP is back in south-p1's rotation");
    const failed = results.filter((r) => r.status !== 200 || r.region !== "north");
    assert.ok(results.length > 50, `only ${results.length} requests were sent`);
    assert.deepEqual(failed, [], `${failed.length} of ${results.length} forwarded requests failed or were not served by north`);
  });
});
