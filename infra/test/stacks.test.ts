import { test } from "node:test";
import assert from "node:assert/strict";
import { App, Testing } from "cdktf";
import { parse } from "yaml";
import { validateTopology, loadTopology } from "../topology/load.ts";
import type { Topology } from "../topology/model.ts";
import { validRaw } from "../topology/test/fixtures.ts";
import { appContainer, popContainer } from "../topology/names.ts";
import { buildEdgeApp, regionStackName, sharedStackName } from "../edge-app.ts";
import type { DeployInputs } from "../deploy-inputs.ts";
import { decideNofile, withNofileDecision } from "../nofile.ts";
import { renderDockerEnvoyConfigs } from "../envoy-configs.ts";
import { maxGlobalConnections } from "../topology/rules.ts";
import { backboneNetworkName, datacenterNetworkName } from "../network-names.ts";
import { pins } from "../../scripts/toolchain/versions.ts";
import { ENVOY_FILES } from "../constructs/container-settings.ts";
import { LABEL_PROJECT, LABEL_REGION, LABEL_RIM, LABEL_ROLE } from "../constructs/labels.ts";
import type { Bootstrap } from "../../edge/envoy-api.ts";
import { hostClusters } from "../../edge/clusters.ts";

interface SynthContainer {
  name: string;
  image: string;
  networks_advanced: { name: string }[];
  ports?: { internal: number; external: number; ip: string }[];
  ulimit?: { name: string; soft: number; hard: number }[];
  upload?: { file: string; content?: string; content_base64?: string; source?: string; source_hash?: string; permissions?: string }[];
  labels: { label: string; value: string }[];
  restart: string;
  healthcheck?: { test: string[] };
  memory: number;
  depends_on?: string[];
}

function inputs(nofile: number, overrides: Partial<DeployInputs> = {}): DeployInputs {
  return {
    stateDir: "/tmp/edgerim-test-state",
    images: { envoy: pins.images.envoy.tag, upstreams: "shop/upstreams:0123456789ab" },
    envoyConfig: (name) => `# envoy bootstrap of ${name}\n`,
    filterWasmBase64: Buffer.from("wasm").toString("base64"),
    jwtAuthn: { sourcePath: "/tmp/edgerim-test-state/jwt/envoy/jwt-authn.json", settingsVersion: "settings-v1" },
    backboneTls: (region, pop) => ({
      caCertPem: "backbone CA certificate\n",
      certPem: `certificate of ${region}-${pop}\n`,
      keyPath: `/tmp/edgerim-test-state/backbone/pops/${region}-${pop}.key`,
      keyVersion: `fingerprint of ${region}-${pop}`,
    }),
    publicTlsSdsPath: (region, pop) => `/tmp/edgerim-test-state/public-tls/sds/${region}-${pop}/pop.yaml`,
    topologyYaml: "project: shop\n",
    nofile,
    ...overrides,
  };
}

function synthRegions(topology: Topology, nofile = topology.resources.nofile, overrides: Partial<DeployInputs> = {}) {
  const app = Testing.app();
  const { shared, regions } = buildEdgeApp(app as App, topology, inputs(nofile, overrides));
  const parse = (stack: Parameters<typeof Testing.synth>[0]) => JSON.parse(Testing.synth(stack)) as {
    terraform: { required_providers: { docker: { version: string } }; backend: { local: { path: string } } };
    provider: { docker: { host?: string }[] };
    resource: { docker_container?: Record<string, SynthContainer>; docker_network?: Record<string, { name: string }>; docker_image?: Record<string, { name: string; keep_locally: boolean }> };
    output?: Record<string, { value: { id: string; clientUrl: string; statsUrl: string } }>;
  };
  return { shared: parse(shared), regions: regions.map((r) => parse(r)) };
}

type SynthStack = { resource: { docker_container?: Record<string, SynthContainer>; docker_network?: Record<string, { name: string }> } };

/** Containers with network references resolved to the network names they point at. */
const containers = (stack: SynthStack) =>
  Object.values(stack.resource.docker_container ?? {}).map((c) => ({
    ...c,
    networks_advanced: c.networks_advanced.map((n) => {
      const ref = n.name.match(/^\$\{docker_network\.([^.]+)\.name\}$/);
      return { name: ref ? stack.resource.docker_network![ref[1]!]!.name : n.name };
    }),
  }));
const label = (c: SynthContainer, name: string) => c.labels.find((l) => l.label === name)?.value;

test("Stacks: one shared stack plus one stack per region, named from the topology", () => {
  const topology = validateTopology(validRaw());
  const app = Testing.app();
  const { shared, regions } = buildEdgeApp(app as App, topology, inputs(1024 * 256));
  assert.equal(shared.node.id, sharedStackName(topology));
  assert.deepEqual(regions.map((r) => r.node.id), topology.regions.map((r) => regionStackName(topology, r.name)));
  assert.deepEqual(regions.map((r) => r.dependencies.map((d) => d.node.id)), topology.regions.map(() => [sharedStackName(topology)]));
});

test("RegionStack: a region's containers are exactly its POPs, ingress, app replicas and discovery", () => {
  const topology = validateTopology(validRaw());
  const { regions } = synthRegions(topology);
  topology.regions.forEach((region, i) => {
    const names = containers(regions[i]!).map((c) => c.name).sort();
    const expected = [
      ...region.pops.map((p) => popContainer(topology.project, region.name, p.name)),
      ...topology.apps.flatMap((a) => Array.from({ length: region.datacenter.apps[a.name]!.replicas }, (_, k) => appContainer(topology.project, a.name, region.name, k + 1))),
      `${topology.project}-ingress-${region.name}-1`,
      `${topology.project}-discovery-${region.name}`,
    ].sort();
    assert.deepEqual(names, expected);
    for (const c of containers(regions[i]!)) {
      assert.equal(label(c, LABEL_PROJECT), topology.project);
      assert.equal(label(c, LABEL_REGION), region.name);
      assert.equal(c.restart, "unless-stopped");
      assert.ok(c.healthcheck?.test.length, `${c.name} has a health check`);
      assert.ok(c.memory > 0, `${c.name} has a memory limit`);
    }
  });
});

test("Pop: client, TLS and stats ports are published on 127.0.0.1 only, and nothing else is published", () => {
  const topology = validateTopology(validRaw());
  const { regions } = synthRegions(topology);
  const all = regions.flatMap(containers);
  for (const c of all) {
    for (const p of c.ports ?? []) assert.equal(p.ip, "127.0.0.1", `${c.name} publishes ${p.external} on ${p.ip}`);
    if (label(c, LABEL_ROLE) !== "pop") assert.equal(c.ports?.length ?? 0, 0, `${c.name} is not a POP and publishes nothing`);
  }
  const pop = all.find((c) => c.name === popContainer(topology.project, "north", "p1"))!;
  assert.deepEqual(pop.ports!.map((p) => [p.external, p.internal]).sort(), [[28001, topology.ports.popClient], [28301, topology.ports.popClientTls], [29001, topology.ports.envoyStats]].sort());
});

test("Networks: POPs and the discovery service (a global directory) join the backbone and their datacenter network; ingress and apps only their datacenter network", () => {
  const topology = validateTopology(validRaw());
  const { shared, regions } = synthRegions(topology);
  assert.deepEqual(Object.values(shared.resource.docker_network!).map((n) => n.name), [backboneNetworkName(topology.project)]);
  topology.regions.forEach((region, i) => {
    const own = datacenterNetworkName(topology.project, region.name);
    assert.deepEqual(Object.values(regions[i]!.resource.docker_network!).map((n) => n.name), [own]);
    for (const c of containers(regions[i]!)) {
      const nets = c.networks_advanced.map((n) => n.name).sort();
      const global = label(c, LABEL_RIM) === "outer" || label(c, LABEL_ROLE) === "discovery";
      if (global) assert.deepEqual(nets, [backboneNetworkName(topology.project), own].sort(), `${c.name} is reached from every region`);
      else assert.deepEqual(nets, [own], `${c.name} must not reach other regions`);
    }
  });
});

test("Pop: nofile soft = hard = the topology value (262144 by default) when the daemon allows it", () => {
  const topology = loadTopology();
  assert.equal(topology.resources.nofile, 262144);
  const { regions } = synthRegions(topology);
  const envoys = regions.flatMap(containers).filter((c) => ["pop", "ingress"].includes(label(c, LABEL_ROLE)!));
  assert.ok(envoys.length > 0);
  for (const c of envoys) assert.deepEqual(c.ulimit, [{ name: "nofile", soft: 262144, hard: 262144 }]);
});

test("nofile: a higher or unknown daemon limit changes neither nofile nor the connection limits, and warns of nothing", () => {
  const resources = { nofile: 262144, connections: { perListener: 8192, global: 16384 } };
  assert.deepEqual(decideNofile(resources, undefined), { nofile: 262144, connections: { perListener: 8192, global: 16384 } });
  assert.deepEqual(decideNofile(resources, 262144), { nofile: 262144, connections: { perListener: 8192, global: 16384 } });
  assert.deepEqual(decideNofile(resources, 1048576), { nofile: 262144, connections: { perListener: 8192, global: 16384 } });
});

test("nofile: a lower daemon limit clamps nofile, lowers connections.global to nofile / 2 (and perListener to global) when above, and the warning says each", () => {
  const resources = { nofile: 262144, connections: { perListener: 8192, global: 16384 } };
  // Room for the topology's connections: only nofile is lowered.
  const roomy = decideNofile(resources, 40000);
  assert.deepEqual([roomy.nofile, roomy.connections], [40000, { perListener: 8192, global: 16384 }]);
  assert.match(roomy.warning!, /^WARNING: resources\.nofile is 262144 but the Docker daemon's open-files hard limit is 40000; Envoy containers get nofile=40000\. Raise/);
  // Measured on a region's own engine: the same line, naming that host.
  assert.match(decideNofile(resources, 40000, "tcp://127.0.0.1:23751").warning!, /^WARNING: resources\.nofile is 262144 but the Docker daemon's \(at tcp:\/\/127\.0\.0\.1:23751\) open-files hard limit is 40000; Envoy containers get nofile=40000\. Raise/);
  // global over 20001 / 2: lowered to the floor; perListener still fits.
  const tight = decideNofile(resources, 20001);
  assert.deepEqual([tight.nofile, tight.connections], [20001, { perListener: 8192, global: 10000 }]);
  assert.match(tight.warning!, /Envoy containers get nofile=20001 and connections\.global=10000 \(topology: 16384\), to stay within nofile \/ 2\. Raise/);
  // global lowered below perListener: perListener follows it.
  const tighter = decideNofile(resources, 10000);
  assert.deepEqual([tighter.nofile, tighter.connections], [10000, { perListener: 5000, global: 5000 }]);
  assert.match(tighter.warning!, /nofile=10000 and connections\.global=5000 \(topology: 16384\) and connections\.perListener=5000 \(topology: 8192\), to stay within/);
  for (const decision of [roomy, tight, tighter]) {
    assert.ok(decision.connections.global <= maxGlobalConnections(decision.nofile), "the topology rule holds for what Envoy gets");
    assert.ok(decision.connections.perListener <= decision.connections.global);
  }
});

test("nofile: a clamped deploy gives containers the clamped nofile and every Envoy bootstrap the lowered connection limits", () => {
  const topology = loadTopology();
  const clamped = decideNofile(topology.resources, 20000);
  const { regions } = synthRegions(topology, clamped.nofile);
  for (const c of regions.flatMap(containers).filter((c) => c.ulimit)) assert.deepEqual(c.ulimit, [{ name: "nofile", soft: 20000, hard: 20000 }]);

  const configs = renderDockerEnvoyConfigs(withNofileDecision(topology, clamped), "/work/topology.yaml");
  assert.ok(configs.size > 0);
  for (const [container, yaml] of configs) {
    const bootstrap = parse(yaml) as Bootstrap;
    const downstream = bootstrap.overload_manager.resource_monitors.find((m) => m.name === "envoy.resource_monitors.global_downstream_max_connections");
    assert.deepEqual(downstream?.typed_config, {
      "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
      max_active_downstream_connections: 10000,
    }, container);
    for (const l of bootstrap.static_resources.listeners) {
      const limit = l.filter_chains[0]!.filters.find((f) => f.name === "envoy.filters.network.connection_limit");
      assert.equal((limit?.typed_config as { max_connections: number } | undefined)?.max_connections, topology.resources.connections.perListener, `${container} ${l.name}`);
    }
    const thresholds = hostClusters(bootstrap.static_resources.clusters).flatMap((c) => (c.circuit_breakers?.thresholds ?? []).map((t) => [c.name, t] as const));
    assert.ok(thresholds.length > 0, `${container} has circuit breakers`);
    for (const [name, threshold] of thresholds) assert.equal(threshold.max_requests, 10000, `${container} ${name}`);
  }
});

test("Pop: the Envoy config, filter and token check are uploaded into the container; a key rotation does not replace it", () => {
  const topology = validateTopology(validRaw());
  const { regions } = synthRegions(topology);
  const name = popContainer(topology.project, "south", "p1");
  const pop = containers(regions[1]!).find((c) => c.name === name)!;
  const files = Object.fromEntries(pop.upload!.map((u) => [u.file, u.content ?? u.content_base64 ?? `${u.source}#${u.source_hash}`]));
  assert.equal(files[ENVOY_FILES.config], `# envoy bootstrap of ${name}\n`);
  assert.equal(files[ENVOY_FILES.wasm], Buffer.from("wasm").toString("base64"));
  // Uploaded from the file, tracked only by the version of its non-key settings.
  assert.equal(files[ENVOY_FILES.jwtAuthn], "/tmp/edgerim-test-state/jwt/envoy/jwt-authn.json#settings-v1");
});

type Synth = ReturnType<typeof synthRegions>;

/**
 * Every attribute that differs between two synths of the same stacks, as `<container name>: <attribute>`
 * for containers and `<stack>/<resource type>.<id>: <attribute>` for anything else.
 */
function changedAttributes(before: Synth, after: Synth): string[] {
  type Resources = Record<string, Record<string, Record<string, unknown>>>;
  const stacks = (synth: Synth) => [synth.shared, ...synth.regions].map((stack) => stack.resource as unknown as Resources);
  const changed: string[] = [];
  stacks(before).forEach((a, i) => {
    const b = stacks(after)[i]!;
    for (const type of new Set([...Object.keys(a), ...Object.keys(b)])) {
      for (const id of new Set([...Object.keys(a[type] ?? {}), ...Object.keys(b[type] ?? {})])) {
        const was = a[type]?.[id] ?? {};
        const is = b[type]?.[id] ?? {};
        const what = type === "docker_container" ? String(was.name ?? is.name) : `${i}/${type}.${id}`;
        for (const attribute of new Set([...Object.keys(was), ...Object.keys(is)])) {
          if (JSON.stringify(was[attribute]) !== JSON.stringify(is[attribute])) changed.push(`${what}: ${attribute}`);
        }
      }
    }
  });
  return changed.sort();
}

// The provider declares `upload` ForceNew (kreuzwerker/docker, internal/provider/resource_docker_container.go):
// Terraform replaces a container whose upload changed. What a change replaces is therefore the set of
// containers whose upload it changes, provided it changes nothing else.
test("Pop: a change to one POP's Envoy config changes that POP's container, only in its upload, and nothing else in any stack", () => {
  const topology = validateTopology(validRaw());
  const target = popContainer(topology.project, "south", "p1");
  const before = synthRegions(topology);
  const after = synthRegions(topology, undefined, {
    envoyConfig: (name) => `# envoy bootstrap of ${name}\n${name === target ? "# changed\n" : ""}`,
  });
  assert.deepEqual(changedAttributes(before, after), [`${target}: upload`]);
});

test("Pop: a new filter build changes every POP's upload and no other container or resource", () => {
  const topology = validateTopology(validRaw());
  const before = synthRegions(topology);
  const after = synthRegions(topology, undefined, { filterWasmBase64: Buffer.from("wasm, rebuilt").toString("base64") });
  const pops = topology.regions.flatMap((r) => r.pops.map((p) => `${popContainer(topology.project, r.name, p.name)}: upload`));
  assert.deepEqual(changedAttributes(before, after), pops.sort());
});

test("Pop: gets its own backbone certificate and the CA; its key is uploaded from the state file with mode 0600, never as content", () => {
  const topology = validateTopology(validRaw());
  const { regions } = synthRegions(topology);
  const all = regions.flatMap(containers);
  for (const region of topology.regions) {
    for (const p of region.pops) {
      const pop = all.find((c) => c.name === popContainer(topology.project, region.name, p.name))!;
      const upload = (file: string) => pop.upload!.find((u) => u.file === file);
      assert.deepEqual(upload(ENVOY_FILES.backboneCa), { file: ENVOY_FILES.backboneCa, content: "backbone CA certificate\n", permissions: "0644" });
      assert.deepEqual(upload(ENVOY_FILES.backboneCert), { file: ENVOY_FILES.backboneCert, content: `certificate of ${region.name}-${p.name}\n`, permissions: "0644" });
      assert.deepEqual(upload(ENVOY_FILES.backboneKey), {
        file: ENVOY_FILES.backboneKey,
        source: `/tmp/edgerim-test-state/backbone/pops/${region.name}-${p.name}.key`,
        source_hash: `fingerprint of ${region.name}-${p.name}`,
        permissions: "0600",
      });
    }
  }
  for (const c of all.filter((c) => label(c, LABEL_ROLE) !== "pop")) {
    assert.equal(c.upload?.some((u) => u.file.startsWith("/etc/edgerim/backbone/")) ?? false, false, `${c.name} holds no backbone material`);
  }
});

test("Stacks: the provider is pinned to the version setup builds, and state stays in the state folder", () => {
  const topology = validateTopology(validRaw());
  const { shared, regions } = synthRegions(topology);
  for (const s of [shared, ...regions]) {
    assert.equal(s.terraform.required_providers.docker.version, pins.dockerProvider.version);
    assert.match(s.terraform.backend.local.path, /^\/tmp\/edgerim-test-state\/terraform\/shop-[a-z]+\.tfstate$/);
  }
  assert.equal(Object.values(shared.resource.docker_image!).find((i) => i.name.includes("upstreams"))!.keep_locally, false);
});

test("RegionStack: outputs give each POP's client and stats URL", () => {
  const topology = validateTopology(validRaw());
  const { regions } = synthRegions(topology);
  const outputs = regions.flatMap((r) => Object.values(r.output ?? {}).map((o) => o.value));
  assert.deepEqual(outputs.map((o) => [o.id, o.clientUrl, o.statsUrl]).sort(), [
    ["north-p1", "http://127.0.0.1:28001", "http://127.0.0.1:29001"],
    ["north-p2", "http://127.0.0.1:28002", "http://127.0.0.1:29002"],
    ["south-p1", "http://127.0.0.1:28011", "http://127.0.0.1:29011"],
  ]);
});

test("RegionStack: a region on another Docker host gets its own provider host, backbone and published backbone ports", () => {
  const raw = validRaw();
  raw.regions[0].dockerHost = "tcp://north.example.net:2376";
  raw.regions[0].backboneAddress = "north.example.net";
  raw.regions[0].backbonePort = 30453;
  raw.regions[1].dockerHost = "ssh://edge@south.example.net";
  raw.regions[1].backboneAddress = "192.0.2.44";
  raw.regions[1].publishAddress = "0.0.0.0";
  raw.regions[1].backbonePort = 30443;
  const topology = validateTopology(raw);
  const { regions } = synthRegions(topology);
  const [north, south] = regions as [ReturnType<typeof synthRegions>["regions"][0], ReturnType<typeof synthRegions>["regions"][0]];
  assert.equal(north.provider.docker[0]!.host, "tcp://north.example.net:2376");
  assert.equal(south.provider.docker[0]!.host, "ssh://edge@south.example.net");
  assert.ok(Object.values(south.resource.docker_network!).some((n) => n.name === backboneNetworkName(topology.project)));
  const southPop = containers(south).find((c) => label(c, LABEL_ROLE) === "pop")!;
  assert.ok(southPop.ports!.some((p) => p.external === 30443 && p.internal === topology.ports.popBackbone && p.ip === "0.0.0.0"));
  assert.ok(southPop.ports!.some((p) => p.internal === topology.ports.popClient && p.ip === "0.0.0.0"), "south publishes its clients on its publishAddress");
  const northPop = containers(north).find((c) => label(c, LABEL_ROLE) === "pop")!;
  assert.deepEqual([...new Set(northPop.ports!.filter((p) => p.internal !== topology.ports.popBackbone).map((p) => p.ip))], ["127.0.0.1"], "north publishes client, TLS and stats on loopback (no publishAddress)");
  const images = Object.keys(south.resource.docker_image!).map((id) => `docker_image.${id}`).sort();
  assert.equal(images.length, 2, "south holds the Envoy and services images on its own engine");
  for (const c of containers(south)) assert.deepEqual([...(c.depends_on ?? [])].sort(), images, `${c.name} is created after, and removed before, its engine's images`);
  const southOutput = Object.values(south.output!)[0]!.value;
  assert.equal(southOutput.clientUrl, "http://south.example.net:28011");
});
