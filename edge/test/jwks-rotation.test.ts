// JWKS rotation in real Envoy on loopback: the token check comes from a watched ECDS file, so a new
// key is accepted, and a retired one refused, with no restart and no failed request in between.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import type { KeyObject } from "node:crypto";
import { validateTopology } from "../../infra/topology/load.ts";
import { validRaw } from "../../infra/topology/test/fixtures.ts";
import { get } from "../../infra/commands/http-probe.ts";
import { ensureSigningKeys } from "../../upstreams/tokens/keys.ts";
import { signToken } from "../../upstreams/tokens/sign.ts";
import { startLoopbackEdge, type LoopbackEdge } from "../loopback-edge.ts";
import { pruneJwks, rotateJwks, waitAccepted, type JwksTarget } from "../jwks-rotation.ts";
import { JWT_CLOCK_SKEW_SECONDS } from "../jwt-authn.ts";

describe("JWKS rotation in real Envoy", () => {
  const topology = validateTopology(validRaw());
  let edge: LoopbackEdge;
  let stateDir: string;
  let target: JwksTarget;
  const token = (region: string, key: KeyObject) =>
    signToken({ user: `u-${region}`, region, ttlSeconds: 600, issuer: topology.jwt.issuer, audience: topology.jwt.audiences, regionClaim: topology.jwt.regionClaim, key });
  const statusAt = async (clientUrl: string, bearer: string) => (await get(`${clientUrl}/cart/1`, { authorization: `Bearer ${bearer}` })).status;
  const status = (region: string, pop: string, bearer: string) => statusAt(edge.clientUrl(region, pop), bearer);
  const pids = () => [...edge.envoys.values()].map((envoy) => envoy.process.pid);

  before(async () => {
    edge = await startLoopbackEdge(topology);
    stateDir = dirname(dirname(edge.keys.jwksPath));
    target = {
      dir: join(stateDir, "jwt", "envoy"),
      pops: edge.outputs().pops.map((pop) => ({ id: pop.id, region: pop.region, clientUrl: pop.clientUrl })),
      // Loopback Envoys watch the state directory itself: the write is the publication.
      publish: async () => undefined,
    };
  });
  after(async () => {
    await edge?.stop();
  });

  it("rotate: the new key is accepted everywhere before it signs; tokens of the old key keep working; no restart, no failed request", async () => {
    const oldKey = edge.keys.privateKey;
    const oldKid = edge.keys.kid;
    const pidsBefore = pids();
    const oldToken = token("north", oldKey);
    let sent = 0;
    const failures: number[] = [];
    let load = true;
    const traffic = (async () => {
      while (load) {
        sent++;
        const code = await status("north", "p1", oldToken).catch(() => 0);
        if (code !== 200) failures.push(code);
      }
    })();
    const startedMs = Date.now();
    const rotation = await rotateJwks(topology, stateDir, target, 15_000);
    await new Promise((r) => setTimeout(r, 500));
    load = false;
    await traffic;

    const keys = ensureSigningKeys(stateDir);
    assert.equal(keys.kid, rotation.kid);
    assert.notEqual(rotation.kid, oldKid, "a new key signs");
    assert.deepEqual(keys.jwks.keys.map((k) => k.kid), [rotation.kid, oldKid], "both keys are published");
    assert.equal(rotation.retiring.length, 1);
    const retainMs = Date.parse(rotation.retiring[0]!.removeAfter) - startedMs;
    const expectedMs = (topology.jwt.maxTokenTtlSeconds + JWT_CLOCK_SKEW_SECONDS) * 1000;
    assert.ok(Math.abs(retainMs - expectedMs) < 60_000, `the old key stays ${retainMs} ms, expected about ${expectedMs}`);
    assert.ok(rotation.acceptedAfterMs < 5000, `accepted after ${rotation.acceptedAfterMs} ms`);
    for (const pop of target.pops) {
      assert.equal(await statusAt(pop.clientUrl, token(pop.region, keys.privateKey)), 200, `${pop.id} accepts the new key`);
      assert.equal(await statusAt(pop.clientUrl, token(pop.region, oldKey)), 200, `${pop.id} still accepts the old key`);
    }
    assert.ok(sent > 20, `only ${sent} requests were sent during the rotation`);
    assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed`);
    assert.deepEqual(pids(), pidsBefore, "no Envoy was restarted");
  });

  it("prune: once its time has passed the old key is refused everywhere; the signing key still works", async () => {
    const keys = ensureSigningKeys(stateDir);
    const [retired] = keys.retiring;
    assert.ok(retired, "the previous test left a retiring key");
    const oldToken = token("north", edge.keys.privateKey);
    assert.equal(await status("north", "p1", oldToken), 200);
    // Before its time nothing is removed.
    const early = await pruneJwks(topology, stateDir, target);
    assert.deepEqual(early.removed, []);
    const pruned = await pruneJwks(topology, stateDir, target, Date.parse(retired.removeAfter) + 1);
    assert.deepEqual(pruned.removed, [retired.jwk.kid]);
    const deadline = Date.now() + 5000;
    let code = 200;
    while (code !== 401 && Date.now() < deadline) code = await status("north", "p1", oldToken);
    assert.equal(code, 401, "a token of the removed key is refused within 5 s");
    for (const pop of target.pops) {
      assert.equal(await statusAt(pop.clientUrl, token(pop.region, edge.keys.privateKey)), 401, `${pop.id} refuses the removed key`);
      assert.equal(await statusAt(pop.clientUrl, token(pop.region, keys.privateKey)), 200, `${pop.id} accepts the signing key`);
    }
  });

  it("bad input: a jwt_authn file Envoy cannot parse is rejected; the last good keys stay in force", async () => {
    const file = join(target.dir, "jwt-authn.json");
    const good = readFileSync(file, "utf8");
    const keys = ensureSigningKeys(stateDir);
    const failsBefore = await configFails();
    const broken = join(target.dir, ".broken");
    writeFileSync(broken, good.replace('"keys"', '"no_keys_here"').replace(/"inline_string": "/, '"inline_string": "not json '));
    renameSync(broken, file);
    const deadline = Date.now() + 5000;
    let fails = failsBefore;
    while (fails === failsBefore && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      fails = await configFails();
    }
    assert.ok(fails > failsBefore, `Envoy counted the rejected file (config_fail ${failsBefore} -> ${fails})`);
    assert.equal(await status("north", "p1", token("north", keys.privateKey)), 200, "the signing key is still accepted");
    writeFileSync(broken, good);
    renameSync(broken, file);
    assert.deepEqual(await waitAccepted(topology, target.pops, keys.privateKey, keys.kid, 5000), []);
  });

  /** Envoy's count of jwt_authn files it refused, at north-p1. */
  async function configFails(): Promise<number> {
    const text = (await get(`${edge.adminUrl("north", "p1")}/stats?filter=extension_config_discovery`)).body;
    const line = text.split("\n").find((l) => l.includes("jwt_authn") && l.includes("config_fail"));
    assert.ok(line, `no config_fail counter in:\n${text}`);
    return Number(line.split(":")[1]);
  }
});
