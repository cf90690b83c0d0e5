import type { Construct } from "constructs";
import { TerraformOutput } from "cdktf";
import { Network } from "@cdktf/provider-docker/lib/network/index.js";
import { Image } from "@cdktf/provider-docker/lib/image/index.js";
import type { Region, Topology } from "../topology/model.ts";
import { appContainer, discoveryContainer, grpcService, ingressContainer, popContainer, popId } from "../topology/names.ts";
import { objectLabels } from "../constructs/labels.ts";
import { Pop } from "../constructs/pop.ts";
import { Datacenter } from "../constructs/datacenter.ts";
import { EdgeStack } from "./edge-stack.ts";
import type { DeployInputs } from "../deploy-inputs.ts";
import { backboneNetworkName, datacenterNetworkName } from "../network-names.ts";
import type { PopOutput } from "../deploy-outputs.ts";
import { dockerHostAddress } from "../../edge/placement.ts";

export interface RegionStackProps {
  topology: Topology;
  region: Region;
  inputs: DeployInputs;
}

/** One region: its POPs (outer rim) and its datacenter (inner rim), on its own datacenter network. */
export class RegionStack extends EdgeStack {
  readonly pops: Pop[] = [];

  constructor(scope: Construct, name: string, props: RegionStackProps) {
    const { topology, region, inputs } = props;
    super(scope, name, inputs.stateDir, region.dockerHost);
    const project = topology.project;
    const remote = region.dockerHost !== undefined;
    const publishAddress = region.publishAddress ?? "127.0.0.1";

    const datacenterNetwork = new Network(this, "datacenter-network", {
      name: datacenterNetworkName(project, region.name),
      driver: "bridge",
      labels: objectLabels(project, "inner", "network", region.name),
    });
    let backboneNetwork = backboneNetworkName(project);
    const images: Image[] = [];
    if (remote) {
      // A region on another Docker host gets its own backbone bridge there; peers reach its POPs
      // through their published backbone ports.
      backboneNetwork = new Network(this, "backbone-network", {
        name: backboneNetworkName(project),
        driver: "bridge",
        labels: objectLabels(project, "backbone", "network", region.name),
      }).name;
      // The deploy sends both images to that engine first (engines.ts): nothing is pulled.
      images.push(
        new Image(this, "envoy-image", { name: inputs.images.envoy, keepLocally: true }),
        new Image(this, "upstreams-image", { name: inputs.images.upstreams, keepLocally: false }),
      );
    }

    const datacenter = new Datacenter(this, "datacenter", {
      provider: this.provider,
      project,
      region: region.name,
      network: datacenterNetwork.name,
      backboneNetwork,
      envoyImage: inputs.images.envoy,
      upstreamsImage: inputs.images.upstreams,
      ingress: Array.from({ length: region.datacenter.ingressReplicas }, (_, i) => {
        const containerName = ingressContainer(project, region.name, i + 1);
        return { containerName, envoyConfig: inputs.envoyConfig(containerName) };
      }),
      apps: topology.apps.flatMap((app) =>
        Array.from({ length: region.datacenter.apps[app.name]!.replicas }, (_, i) => ({
          app: app.name,
          instance: i + 1,
          containerName: appContainer(project, app.name, region.name, i + 1),
          grpcService: grpcService(app),
        })),
      ),
      discoveryContainer: discoveryContainer(project, region.name),
      topologyYaml: inputs.topologyYaml,
      ports: { app: topology.ports.app, discovery: topology.ports.discovery, envoyStats: topology.ports.envoyStats },
      concurrency: topology.resources.envoyConcurrency,
      nofile: inputs.nofile,
      memoryMb: topology.resources.memoryMb,
    });

    region.pops.forEach((pop, index) => {
      const containerName = popContainer(project, region.name, pop.name);
      const instance = new Pop(this, `pop-${pop.name}`, {
        provider: this.provider,
        project,
        region: region.name,
        containerName,
        image: inputs.images.envoy,
        envoyConfig: inputs.envoyConfig(containerName),
        filterWasmBase64: inputs.filterWasmBase64,
        jwtAuthn: inputs.jwtAuthn,
        backboneTls: inputs.backboneTls(region.name, pop.name),
        backboneNetwork,
        datacenterNetwork: datacenterNetwork.name,
        // Client, TLS and stats ports on the host's publish address (loopback unless the region says
        // otherwise); only the mutual-TLS backbone is published for other hosts.
        client: { host: pop.clientPort, container: topology.ports.popClient, hostAddress: publishAddress },
        clientTls: { host: pop.tlsPort, container: topology.ports.popClientTls, hostAddress: publishAddress },
        publicTlsSdsPath: inputs.publicTlsSdsPath(region.name, pop.name),
        stats: { host: pop.statsPort, container: topology.ports.envoyStats, hostAddress: publishAddress },
        backbone: region.backbonePort !== undefined
          ? { host: region.backbonePort + index, container: topology.ports.popBackbone, hostAddress: "0.0.0.0" }
          : undefined,
        statsContainerPort: topology.ports.envoyStats,
        concurrency: topology.resources.envoyConcurrency,
        nofile: inputs.nofile,
        memoryMb: topology.resources.memoryMb.pop,
      });
      // POPs start after their datacenter is healthy, so a POP never reports ready without a backend.
      instance.container.node.addDependency(datacenter);
      this.pops.push(instance);
      // This machine reaches a remote region's ports at its Docker host (the harness's engines publish
      // them on 127.0.0.1 here).
      const host = remote ? dockerHostAddress(region.dockerHost!) : "127.0.0.1";
      const output: PopOutput = {
        id: popId(region.name, pop.name),
        region: region.name,
        pop: pop.name,
        clientUrl: `http://${host}:${pop.clientPort}`,
        tlsUrl: `https://${host}:${pop.tlsPort}`,
        statsUrl: `http://${host}:${pop.statsPort}`,
      };
      new TerraformOutput(this, `pop-${pop.name}-urls`, { value: output });
    });
    // On its own engine a region holds its images: containers are created after them and removed
    // before them (a destroy would otherwise try to remove an image still in use).
    for (const container of [...datacenter.containers, ...this.pops.map((p) => p.container)]) {
      container.dependsOn = [...(container.dependsOn ?? []), ...images.map((image) => `${image.terraformResourceType}.${image.friendlyUniqueId}`)];
    }
  }
}
