// End to end on the local Docker Engine: deploy the default topology, drive k6 across regions, send bad
// input through POPs, run every fault scenario in short form on the same deploy, redeploy one region
// alone, destroy and check nothing is left.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { stringify, parse } from "yaml";
import { run } from "../../../scripts/toolchain/commands.ts";
import { stateDir } from "../../../scripts/toolchain/paths.ts";
import { loadTopology, DEFAULT_TOPOLOGY_PATH } from "../../topology/load.ts";
import { appContainer, popContainer } from "../../topology/names.ts";
import { ensureSigningKeys } from "../../../upstreams/tokens/keys.ts";
import { signToken } from "../../../upstreams/tokens/sign.ts";
import { runLoad } from "../../../load/run.ts";
import { deploy } from "../../commands/deploy.ts";
import { destroy } from "../../commands/destroy.ts";
import { projectObjects } from "../../commands/docker-objects.ts";
import type { DeployOutputs } from "../../deploy-outputs.ts";
import { LABEL_REGION, LABEL_PROJECT } from "../../constructs/labels.ts";
import { get, routeOf } from "../../commands/http-probe.ts";
import { runScenario, SCENARIOS } from "../../../load/scenarios/run.ts";
import { SCENARIO_NAMES } from "../../../load/scenarios/scenario.ts";
import { formatReliabilityTable } from "../../../load/scenarios/reliability-table.ts";
import { runGrpcLoad } from "../../../load/grpc-run.ts";
import { rotateCertificates } from "../../commands/rotate.ts";
import { handshake } from "../../../edge/test/tls-client.ts";

const topology = loadTopology(DEFAULT_TOPOLOGY_PATH);
const [home, away] = topology.regions as [(typeof topology.regions)[0], (typeof topology.regions)[0]];
const app = topology.apps[0]!;
const homeTenant = topology.tenants.find((t) => t.region === home.name)!;
let outputs: DeployOutputs;
let destroyed = false;

function tokenFor(region: string, ttlSeconds = 600, key = ensureSigningKeys(stateDir).privateKey): string {
  return signToken({ user: `user-${region}`, region, ttlSeconds, issuer: topology.jwt.issuer, audience: topology.jwt.audiences, key });
}

const popUrl = (region: string, index = 0) => outputs.pops.filter((p) => p.region === region)[index]!.clientUrl;

before(async () => {
  delete process.env.EDGE_TOPOLOGY;
  outputs = await deploy({ skipSetup: true, quiet: true });
});

after(async () => {
  if (!destroyed) await destroy({ quiet: true });
});

test("deploy: every POP answers, with its own id in x-edge-pop", async () => {
  assert.equal(outputs.pops.length, topology.regions.reduce((n, r) => n + r.pops.length, 0));
  for (const pop of outputs.pops) {
    const res = await get(`${pop.clientUrl}${app.prefix}/ping`, { host: homeTenant.host });
    assert.equal(res.status, 200, `${pop.id}: ${res.body}`);
    assert.equal(res.headers["x-edge-pop"], pop.id);
    const stats = await get(`${pop.statsUrl}/stats/prometheus`);
    assert.equal(stats.status, 200);
    assert.match(stats.body, /envoy_server_live/);
    assert.equal((await get(`${pop.statsUrl}/config_dump`)).status, 404, "only stats and readiness reach admin");
  }
});

test("TLS: every POP serves HTTPS with its certificate from the deploy's CA (outputs ca), routed by token and by tenant name", async () => {
  const caPath = outputs.ca;
  const [ownerRegion] = topology.regions.filter((r) => r.name !== home.name).map((r) => r.name);
  for (const pop of outputs.pops) {
    assert.match(pop.tlsUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    const byToken = await get(`${pop.tlsUrl}${app.prefix}/tls`, { authorization: `Bearer ${tokenFor(ownerRegion!)}` }, 5000, { caPath });
    assert.equal(byToken.status, 200, `${pop.id}: ${byToken.body}`);
    assert.equal(byToken.json<{ region: string }>().region, ownerRegion);
    const byTenant = await get(`${pop.tlsUrl}${app.prefix}/tls`, { host: homeTenant.host }, 5000, { caPath });
    assert.equal(byTenant.status, 200, `${pop.id}: ${byTenant.body}`);
    assert.equal(byTenant.json<{ region: string }>().region, home.name);
  }
});

test("TLS rotation: npm run rotate -- certs gives every POP a new serial within 5 s; no container restarts, no request fails", async () => {
  const pops = outputs.pops;
  const startedAt = () => run("docker", ["inspect", "-f", "{{.Name}} {{.State.StartedAt}}", ...pops.map((p) => popContainerOf(p.region, p.pop))]).stdout;
  const before = startedAt();
  const served = Object.fromEntries(await Promise.all(pops.map(async (p) => [p.id, await servedSerial(p.tlsUrl, outputs.ca)] as const)));
  let sent = 0;
  let failed = 0;
  let load = true;
  const traffic = (async () => {
    while (load) {
      for (const pop of pops) {
        sent++;
        const res = await get(`${pop.tlsUrl}${app.prefix}/rotation`, { host: homeTenant.host }, 5000, { caPath: outputs.ca }).catch(() => null);
        if (res?.status !== 200) failed++;
      }
    }
  })();
  // A moment of traffic before the rotation, and all of it during: the rotation's docker calls are async.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const rotated = Date.now();
  const rotation = await rotateCertificates(topology);
  const deadline = Date.now() + 5000;
  for (const pop of pops) {
    const expected = rotation.serials[pop.id]!;
    assert.notEqual(expected, served[pop.id]);
    while ((await servedSerial(pop.tlsUrl, outputs.ca)) !== expected) {
      assert.ok(Date.now() < deadline, `${pop.id} serves serial ${expected} within 5 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  load = false;
  await traffic;
  assert.equal(startedAt(), before, "no POP container restarted");
  assert.ok(sent > pops.length * 2, `only ${sent} requests were sent around the rotation`);
  assert.equal(failed, 0, `${failed} of ${sent} requests failed during the rotation`);
  console.log(`certificate rotation: every POP served its new serial ${Date.now() - rotated} ms after the rotation began; ${sent} requests around it, ${failed} failed`);
});

test("k6 smoke: every request is served by its owning region, with one sideways hop when it entered elsewhere", async () => {
  const load = await runLoad({ profile: "smoke", output: "capture" });
  assert.equal(load.exitCode, 0, `k6 exited ${load.exitCode}; failed thresholds ${JSON.stringify(load.summary?.failedThresholds)}, checks ${JSON.stringify(load.summary?.checks)}\n${load.stderr.slice(-2000)}`);
  const summary = load.summary!;
  assert.ok(summary.requests > 100, `k6 sent ${summary.requests} requests`);
  assert.ok(summary.failedRate < 0.01, `failed rate ${summary.failedRate}`);
  assert.deepEqual(summary.failedThresholds, []);
  for (const entry of topology.regions) {
    for (const owner of topology.regions) {
      const cells = summary.routeMatrix.filter((c) => c.entryRegion === entry.name && c.ownerRegion === owner.name);
      const served = cells.filter((c) => c.count > 0);
      assert.deepEqual(served.map((c) => c.servingRegion), [owner.name], `entry ${entry.name}, owner ${owner.name}: ${JSON.stringify(cells)}`);
    }
  }
  console.log(`k6 smoke: ${summary.requests} requests, failed ${(summary.failedRate * 100).toFixed(2)}%, p95 by entry region ${JSON.stringify(Object.fromEntries(Object.entries(summary.latencyByEntryRegion).map(([r, v]) => [r, v?.["p(95)"]])))}`);
});

test("k6 gRPC smoke: every Profile/Get call, from every POP, is served by its owning region over HTTP/2", async () => {
  const load = await runGrpcLoad({ iterations: 2, output: "capture" });
  assert.equal(load.exitCode, 0, `k6 exited ${load.exitCode}; ${JSON.stringify(load.summary?.failedThresholds)}\n${load.stderr.slice(-2000)}`);
  const summary = load.summary!;
  assert.equal(summary.misroutes, 0);
  for (const entry of topology.regions) {
    for (const owner of topology.regions) {
      const served = summary.routeMatrix.filter((c) => c.entryRegion === entry.name && c.ownerRegion === owner.name && c.count > 0);
      assert.deepEqual(served.map((c) => c.servingRegion), [owner.name], `gRPC entry ${entry.name}, owner ${owner.name}`);
    }
  }
});

test("bad input: no token and an unknown tenant gets the fallback outcome (reject: 503 no_owner)", async () => {
  assert.equal(topology.routing.fallback.policy, "reject");
  const res = await get(`${popUrl(home.name)}${app.prefix}/x`, { host: "nobody.unknown.test" });
  assert.equal(res.status, 503);
  assert.equal(res.json<{ error: string }>().error, "no_owner");
});

test("bad input: a token signed by another key is rejected with 401 before routing", async () => {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const res = await get(`${popUrl(home.name)}${app.prefix}/x`, { host: homeTenant.host, authorization: `Bearer ${tokenFor(away.name, 600, privateKey)}` });
  assert.equal(res.status, 401);
  assert.equal(res.headers["x-edge-route"], undefined);
});

test("bad input: an expired token is rejected with 401", async () => {
  const res = await get(`${popUrl(home.name)}${app.prefix}/x`, { authorization: `Bearer ${tokenFor(away.name, -120)}` });
  assert.equal(res.status, 401);
});

test("bad input: a valid token naming an unknown region is refused with 403 unknown_region", async () => {
  const res = await get(`${popUrl(home.name)}${app.prefix}/x`, { authorization: `Bearer ${tokenFor("atlantis")}` });
  assert.equal(res.status, 403);
  assert.equal(res.json<{ error: string }>().error, "unknown_region");
});

test("bad input: spoofed internal headers change nothing", async () => {
  const res = await get(`${popUrl(home.name)}${app.prefix}/x`, {
    host: homeTenant.host,
    "x-edge-cluster": "discovery",
    "x-edge-hops": "7",
    "x-edge-user-region": away.name,
  });
  assert.equal(res.status, 200, res.body);
  const body = res.json<{ region: string; hops: number; app: string }>();
  assert.equal(body.region, home.name, "served by the tenant's region, not the spoofed claim's");
  assert.equal(body.app, app.name, "not routed to the discovery cluster");
  assert.equal(body.hops, 0);
  const route = routeOf(res);
  assert.equal(route.owner, home.name);
  assert.notEqual(route.source, "jwt");
  assert.equal(route.hops, "0");
});

test("bad input: a path no app serves gets 404 no_app from the filter", async () => {
  const res = await get(`${popUrl(home.name)}/no-such-app/x`, { host: homeTenant.host });
  assert.equal(res.status, 404);
  assert.equal(res.json<{ error: string }>().error, "no_app");
});

// The fault scenarios in short form against this deploy (load/scenarios/, `npm run scenarios -- --quick`).
// Each restores its fault before it returns, so the tests after it see the whole edge again.
for (const name of SCENARIO_NAMES) {
  const scenario = SCENARIOS[name];
  test(`scenario ${name} (quick): ${scenario.description}`, async () => {
    const result = await runScenario(scenario, { topology, outputs, form: "quick", stateDir: join(stateDir, "scenarios"), region: home.name, regionChosen: false, output: "capture" });
    console.log(formatReliabilityTable([result], { cpus: cpus().length, memoryGiB: totalmem() / 2 ** 30 }, `npm run scenarios -- --quick --only ${name}`, new Date().toISOString().slice(0, 10)));
    assert.ok(result.byOwner.reduce((n, o) => n + o.requests, 0) > 0, `the fault load sent nothing: ${result.missed.join("; ")}`);
    assert.deepEqual(result.missed, [], `${name} missed its targets (details: ${result.failureLogFile})`);
  });
}

test("deploy one region: redeploying one region's stack leaves every other region's containers untouched", async () => {
  const idsOf = (region: string) =>
    run("docker", ["ps", "-a", "--filter", `label=${LABEL_PROJECT}=${topology.project}`, "--filter", `label=${LABEL_REGION}=${region}`, "--format", "{{.Names}} {{.ID}}"]).stdout.trim().split("\n").sort();
  const before = Object.fromEntries(topology.regions.map((r) => [r.name, idsOf(r.name)]));
  // One fewer replica of one app in the home region: only the home region's stack changes.
  const changed = parse(readFileSync(DEFAULT_TOPOLOGY_PATH, "utf8"));
  changed.regions[0].datacenter.apps[app.name].replicas = 1;
  const path = join(stateDir, "topology-one-region.yaml");
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(path, stringify(changed));
  process.env.EDGE_TOPOLOGY = path;
  try {
    await deploy({ skipSetup: true, quiet: true, regions: [home.name] });
  } finally {
    delete process.env.EDGE_TOPOLOGY;
  }
  for (const region of topology.regions.slice(1)) assert.deepEqual(idsOf(region.name), before[region.name], `${region.name} was touched`);
  const homeNames = idsOf(home.name).map((l) => l.split(" ")[0]);
  assert.ok(!homeNames.includes(appContainer(topology.project, app.name, home.name, 2)), "the removed replica is gone");
  const res = await get(`${popUrl(away.name)}${app.prefix}/x`, { host: homeTenant.host });
  assert.equal(res.status, 200);
  assert.equal(res.json<{ region: string }>().region, home.name);
});

test("destroy: no container, network or image of the deploy is left", async () => {
  destroyed = true;
  await destroy({ quiet: true });
  assert.deepEqual(projectObjects(topology.project), { containers: [], networks: [], images: [] });
});

const popContainerOf = (region: string, pop: string) => popContainer(topology.project, region, pop);

/** The serial of the certificate a POP's TLS listener serves to a new handshake (verified against the CA). */
async function servedSerial(tlsUrl: string, caPath: string): Promise<string> {
  const url = new URL(tlsUrl);
  const { socket, cert } = await handshake(Number(url.port), { ca: readFileSync(caPath, "utf8"), servername: "localhost" }, url.hostname);
  socket.destroy();
  return cert.serialNumber;
}
