import { test } from "node:test";
import assert from "node:assert/strict";
import { loadTopology, DEFAULT_TOPOLOGY_PATH } from "../topology/load.ts";
import { enginesOf, engineOfContainer, onEngine } from "../commands/engines.ts";
import { harnessHosts, MULTI_HOST_TOPOLOGY } from "../commands/hosts.ts";
import { popContainer } from "../topology/names.ts";
import type { Topology } from "../topology/model.ts";

const multiHost = loadTopology(MULTI_HOST_TOPOLOGY);
const local = loadTopology(DEFAULT_TOPOLOGY_PATH);

test("engines: one per dockerHost in region order; a topology without one has only the local engine", () => {
  assert.deepEqual(enginesOf(multiHost).map((e) => [e.host, e.regions]), multiHost.regions.map((r) => [r.dockerHost, [r.name]]));
  assert.deepEqual(enginesOf(local), [{ host: undefined, regions: local.regions.map((r) => r.name) }]);
  const shared: Topology = { ...multiHost, regions: multiHost.regions.map((r) => ({ ...r, dockerHost: "ssh://ops@one.hosts.test" })) };
  assert.deepEqual(enginesOf(shared), [{ host: "ssh://ops@one.hosts.test", regions: multiHost.regions.map((r) => r.name) }]);
});

test("engines: a command goes to its region's engine (-H), and to the local one without -H", () => {
  const [region] = multiHost.regions;
  const container = popContainer(multiHost.project, region!.name, region!.pops[0]!.name);
  assert.equal(engineOfContainer(multiHost, container), region!.dockerHost);
  assert.deepEqual(onEngine(engineOfContainer(multiHost, container), ["kill", container]), ["-H", region!.dockerHost!, "kill", container]);
  assert.deepEqual(onEngine(undefined, ["ps"]), ["ps"]);
  assert.throws(() => engineOfContainer(multiHost, "someone-else"), /someone-else is not a container of the topology/);
});

test("hosts: the harness plans each engine from the topology alone: API port, backbone and private address, the ports this machine reaches", () => {
  const hosts = harnessHosts(multiHost);
  const [first] = multiHost.regions;
  assert.deepEqual(hosts[0], {
    region: first!.name,
    apiPort: Number(new URL(first!.dockerHost!).port),
    backboneAddress: first!.backboneAddress,
    publishAddress: first!.publishAddress,
    ports: first!.pops.flatMap((p) => [p.clientPort, p.tlsPort, p.statsPort]),
  });
  assert.equal(hosts.some((h) => h.ports.some((port) => port >= multiHost.regions[0]!.backbonePort! && port < multiHost.regions[0]!.backbonePort! + 2)), false, "backbone ports are not published on this machine");
});

test("hosts: a topology the harness cannot serve is refused with every reason", () => {
  assert.throws(() => harnessHosts(local), (e: Error) => {
    assert.match(e.message, /regions\[0\]\.dockerHost: missing; the harness serves tcp:\/\/127\.0\.0\.1:<port>/);
    assert.match(e.message, /regions\[0\]\.backboneAddress: missing; the harness needs an IPv4 address/);
    return true;
  });
  const oneNet: Topology = { ...multiHost, regions: multiHost.regions.map((r) => ({ ...r, publishAddress: "10.211.9.2" })) };
  assert.throws(() => harnessHosts(oneNet), /each region needs its own \/24/);
});
