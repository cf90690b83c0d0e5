// End to end on three Docker Engines (`npm run hosts -- up`, one per region, in containers on the local
// engine): an unreachable engine stops the deploy before any change; an image transfer cut off half-way
// is repaired; the deploy puts each region on its own engine with only the backbone published for the
// other hosts; k6's route matrix is all correct and its latency matrix shows the declared WAN; a POP
// lost on one engine costs its region's traffic < 0.1% errors; destroy leaves nothing on any engine
// and `hosts down` nothing on this machine.
import "../../multi-host-env.ts";
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { run } from "../../../scripts/toolchain/commands.ts";
import { stateDir } from "../../../scripts/toolchain/paths.ts";
import { pins } from "../../../scripts/toolchain/versions.ts";
import { loadTopology, topologyPath } from "../../topology/load.ts";
import { runLoad } from "../../../load/run.ts";
import { deploy } from "../../commands/deploy.ts";
import { destroy } from "../../commands/destroy.ts";
import { projectObjects, parseHostPorts } from "../../commands/docker-objects.ts";
import { enginesOf, imageIdOn, onEngine } from "../../commands/engines.ts";
import { engineContainerName, harnessObjects, hostsDown, hostsUp } from "../../commands/hosts.ts";
import { LABEL_PROJECT, LABEL_REGION } from "../../constructs/labels.ts";
import { bundleUpstreams } from "../../upstreams-image.ts";
import { runScenario, SCENARIOS } from "../../../load/scenarios/run.ts";
import { formatReliabilityTable } from "../../../load/scenarios/reliability-table.ts";
import { rttMs } from "../../../edge/wan.ts";
import { hopCosts } from "../../../load/lib/latency-matrix.ts";
import type { DeployOutputs } from "../../deploy-outputs.ts";

const topology = loadTopology(topologyPath());
const engines = enginesOf(topology);
const [first] = topology.regions;
/** A latency cell is its pair's RTT plus what the owner region costs served locally, within this share. */
const LATENCY_TOLERANCE = 0.2;
let outputs: DeployOutputs;
let deployed = false;
let hostsAreUp = false;

after(async () => {
  if (deployed) await destroy({ quiet: true }).catch((e: Error) => console.error(`cleanup: ${e.message}`));
  if (hostsAreUp) await hostsDown(topology).catch((e: Error) => console.error(`cleanup: ${e.message}`));
});

test("an engine that does not answer: the deploy stops before any change, naming the region, the host and the fix", async () => {
  await hostsDown(topology);
  // Whatever an earlier run left in this test's own state folder went with the engines.
  rmSync(stateDir, { recursive: true, force: true });
  await assert.rejects(deploy({ skipSetup: true, quiet: true }), (e: Error) => {
    assert.match(e.message, new RegExp(`region\\(s\\) ${first!.name}: the Docker Engine at ${first!.dockerHost!.replace(/[.:/]/g, "\\$&")} does not answer`));
    assert.match(e.message, /npm run hosts -- up/);
    return true;
  });
  const local = projectObjects(topology.project);
  assert.deepEqual([local.containers, local.networks], [[], []], "no container or network on the local engine");
  assert.equal(existsSync(join(stateDir, "terraform")), false, "no Terraform state was written");
});

test("hosts up: one engine per region, reached only through 127.0.0.1 ports", async () => {
  hostsAreUp = true;
  await hostsUp(topology);
  for (const region of topology.regions) {
    const ports = parseHostPorts(run("docker", ["ps", "--filter", `name=^${engineContainerName(topology.project, region.name)}$`, "--format", "{{.Ports}}"]).stdout);
    assert.ok(ports.length > 0, `${region.name}'s engine publishes its API`);
    assert.deepEqual([...new Set(ports.map((p) => p.address))], ["127.0.0.1"], `${region.name}'s engine: ${JSON.stringify(ports)}`);
  }
});

test("an image transfer cut off half-way is repaired by the next deploy", async () => {
  const host = first!.dockerHost!;
  const save = spawn("docker", ["save", pins.images.envoy.tag], { stdio: ["ignore", "pipe", "ignore"] });
  const load = spawn("docker", onEngine(host, ["load"]), { stdio: ["pipe", "ignore", "ignore"] });
  save.stdout.pipe(load.stdin);
  await new Promise((r) => setTimeout(r, 300));
  save.kill("SIGKILL");
  load.kill("SIGKILL");
  await new Promise((r) => load.once("close", r));
  assert.notEqual(imageIdOn(host, pins.images.envoy.tag), imageIdOn(undefined, pins.images.envoy.tag), "the cut-off transfer left no complete image");
});

test("deploy: every region on its own engine, images sent, only the backbone published for other hosts", async () => {
  const started = performance.now();
  deployed = true;
  outputs = await deploy({ skipSetup: true, quiet: true });
  console.log(`multi-host deploy (images sent, first deploy): ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const images = [pins.images.envoy.tag, bundleUpstreams(topology.project).tag];
  for (const region of topology.regions) {
    const host = region.dockerHost!;
    for (const tag of images) assert.equal(imageIdOn(host, tag), imageIdOn(undefined, tag), `${tag} on ${host}`);
    const onIt = run("docker", onEngine(host, ["ps", "-a", "--filter", `label=${LABEL_PROJECT}=${topology.project}`, "--format", `{{.Label "${LABEL_REGION}"}}\t{{.Ports}}`])).stdout.trim().split("\n");
    assert.ok(onIt.length >= region.pops.length + 2, `${region.name}: ${onIt.length} containers on ${host}`);
    for (const line of onIt) {
      const [owner = "", ports = ""] = line.split("\t");
      assert.equal(owner, region.name, `a container of ${owner} is on ${region.name}'s engine`);
      for (const port of parseHostPorts(ports)) {
        const backbone = region.backbonePort! <= port.port && port.port < region.backbonePort! + region.pops.length;
        assert.equal(port.address, backbone ? "0.0.0.0" : region.publishAddress, `${region.name} publishes ${port.port} on ${port.address}`);
      }
    }
  }
  const local = projectObjects(topology.project);
  assert.deepEqual([local.containers, local.networks], [[], []], "no container or network of the deploy on the local engine (only the services image it built and sent)");
});

test("k6: the route matrix is all correct and each latency cell is its pair's RTT plus the owner's local cost (+-20%)", async () => {
  const load = await runLoad({ profile: "smoke", output: "capture" });
  assert.equal(load.exitCode, 0, `k6 exited ${load.exitCode}; failed thresholds ${JSON.stringify(load.summary?.failedThresholds)}\n${load.stderr.slice(-2000)}`);
  const summary = load.summary!;
  assert.equal(summary.misroutes + summary.errors, 0);
  for (const entry of topology.regions) {
    for (const owner of topology.regions) {
      const served = summary.routeMatrix.filter((c) => c.entryRegion === entry.name && c.ownerRegion === owner.name && c.count > 0);
      assert.deepEqual(served.map((c) => c.servingRegion), [owner.name], `entry ${entry.name}, owner ${owner.name}`);
    }
  }
  const regions = topology.regions.map((r) => r.name);
  const hops = hopCosts(summary.latencyMatrix, regions, (a, b) => rttMs(topology, a, b));
  assert.equal(hops.length, regions.length * (regions.length - 1), "every cell off the diagonal was measured");
  for (const h of hops) console.log(`  ${h.entryRegion} -> ${h.ownerRegion}: p50 ${h.measuredMs.toFixed(1)} ms, expected ${(h.rttMs + h.localMs).toFixed(1)} ms (RTT ${h.rttMs} + local ${h.localMs.toFixed(1)})`);
  const misses = hops.filter((h) => Math.abs(h.deviation) > LATENCY_TOLERANCE).map((h) => `${h.entryRegion} -> ${h.ownerRegion}: ${h.measuredMs.toFixed(1)} ms, ${(h.deviation * 100).toFixed(0)}% off`);
  assert.deepEqual(misses, []);
});

test("scenario pop-loss (quick) on one engine: docker -H <engine> kill of a POP; < 0.1% errors for its region, 0 misroutes", async () => {
  const region = topology.regions.find((r) => r.pops.length > 1)!;
  const result = await runScenario(SCENARIOS["pop-loss"], { topology, outputs, form: "quick", stateDir: join(stateDir, "scenarios"), region: region.name, regionChosen: true, output: "capture" });
  console.log(formatReliabilityTable([result], { cpus: cpus().length, memoryGiB: totalmem() / 2 ** 30 }, `EDGE_TOPOLOGY=infra/topology.multi-host.yaml npm run scenarios -- --quick --only pop-loss --region ${region.name}`, new Date().toISOString().slice(0, 10)));
  assert.ok(result.byOwner.reduce((n, o) => n + o.requests, 0) > 0, `the fault load sent nothing: ${result.missed.join("; ")}`);
  assert.deepEqual(result.missed, [], `pop-loss missed its targets (details: ${result.failureLogFile})`);
});

test("destroy: nothing of the deploy is left on any engine", async () => {
  await destroy({ quiet: true });
  deployed = false;
  for (const { host } of engines) assert.deepEqual(projectObjects(topology.project, host), { containers: [], networks: [], images: [] }, `${host}`);
  assert.equal(existsSync(join(stateDir, "outputs.json")), false, "no outputs of a deploy that is gone");
});

test("hosts down: nothing of the harness is left on this machine", async () => {
  await hostsDown(topology);
  hostsAreUp = false;
  assert.deepEqual(harnessObjects(topology.project), []);
  assert.deepEqual(projectObjects(topology.project), { containers: [], networks: [], images: [] });
});
