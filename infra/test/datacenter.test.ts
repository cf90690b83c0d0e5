import assert from "node:assert/strict";
import { it } from "node:test";
import { Testing } from "cdktf";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider/index.js";
import { Datacenter } from "../constructs/datacenter.ts";
import { validateTopology } from "../topology/load.ts";
import { validRaw } from "../topology/test/fixtures.ts";
import { appContainer, grpcService, SERVICE_HEALTH_PATH } from "../topology/names.ts";

it("Datacenter: a gRPC app's replicas get GRPC_SERVICE (its prefix as a service name), an http app's none; both keep the /healthz check", () => {
  const raw = validRaw();
  raw.apps.push({ name: "profile", prefix: "/edgerim.profile.v1.Profile", protocol: "grpc" });
  for (const region of raw.regions) region.datacenter.apps.profile = { replicas: 1 };
  const topology = validateTopology(raw);
  const region = topology.regions[0]!;
  const synthesized = JSON.parse(Testing.synthScope((scope) => {
    const provider = new DockerProvider(scope, "docker", {});
    new Datacenter(scope, "datacenter", {
      provider, project: topology.project, region: region.name, network: "dc", backboneNetwork: "backbone",
      envoyImage: "envoy:test", upstreamsImage: "upstreams:test", ingress: [], discoveryContainer: "discovery", topologyYaml: "",
      apps: topology.apps.map((app) => ({ app: app.name, instance: 1, containerName: appContainer(topology.project, app.name, region.name, 1), grpcService: grpcService(app) })),
      ports: { app: 8080, discovery: 8080, envoyStats: 9902 }, concurrency: 1, nofile: 1024, memoryMb: { ingress: 64, app: 64, discovery: 64 },
    });
  })) as { resource: { docker_container: Record<string, { name: string; env?: string[]; healthcheck?: { test: string[] } }> } };
  const byName = new Map(Object.values(synthesized.resource.docker_container).map((container) => [container.name, container]));
  for (const app of topology.apps) {
    const container = byName.get(appContainer(topology.project, app.name, region.name, 1))!;
    const service = container.env?.filter((entry) => entry.startsWith("GRPC_SERVICE="));
    assert.deepEqual(service, app.protocol === "grpc" ? ["GRPC_SERVICE=edgerim.profile.v1.Profile"] : [], app.name);
    assert.ok(container.healthcheck?.test.at(-1)?.endsWith(`:8080${SERVICE_HEALTH_PATH}`), `${app.name}: ${container.healthcheck?.test.join(" ")}`);
  }
});
