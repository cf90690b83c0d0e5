import { Construct } from "constructs";
import { Container } from "@cdktf/provider-docker/lib/container/index.js";
import type { DockerProvider } from "@cdktf/provider-docker/lib/provider/index.js";
import { commonContainerSettings, ENVOY_FILES, httpHealthcheck } from "./container-settings.ts";
import { objectLabels } from "./labels.ts";

export interface PublishedPort {
  host: number;
  container: number;
  /** Host address the port is published on: 127.0.0.1 unless peers on other hosts must reach it. */
  hostAddress: string;
}

export interface PopProps {
  provider: DockerProvider;
  project: string;
  region: string;
  containerName: string;
  image: string;
  envoyConfig: string;
  filterWasmBase64: string;
  jwks: string;
  backboneNetwork: string;
  datacenterNetwork: string;
  client: PublishedPort;
  stats: PublishedPort;
  /** Set when peers on other Docker hosts reach this POP through a published backbone port. */
  backbone?: PublishedPort;
  statsContainerPort: number;
  concurrency: number;
  nofile: number;
  memoryMb: number;
}

/** A POP of the outer rim: an Envoy with the region router on the backbone and its region's datacenter network. */
export class Pop extends Construct {
  readonly container: Container;

  constructor(scope: Construct, id: string, props: PopProps) {
    super(scope, id);
    const published = [props.client, props.stats, ...(props.backbone ? [props.backbone] : [])];
    this.container = new Container(this, "envoy", {
      provider: props.provider,
      name: props.containerName,
      hostname: props.containerName,
      image: props.image,
      command: ["-c", ENVOY_FILES.config, "--concurrency", String(props.concurrency), "--service-node", props.containerName],
      networksAdvanced: [
        { name: props.backboneNetwork, aliases: [props.containerName] },
        { name: props.datacenterNetwork, aliases: [props.containerName] },
      ],
      ports: published.map((p) => ({ internal: p.container, external: p.host, ip: p.hostAddress, protocol: "tcp" })),
      upload: [
        { file: ENVOY_FILES.config, content: props.envoyConfig },
        { file: ENVOY_FILES.wasm, contentBase64: props.filterWasmBase64 },
        { file: ENVOY_FILES.jwks, content: props.jwks },
      ],
      ulimit: [{ name: "nofile", soft: props.nofile, hard: props.nofile }],
      memory: props.memoryMb,
      healthcheck: httpHealthcheck(props.statsContainerPort, "/ready"),
      labels: objectLabels(props.project, "outer", "pop", props.region),
      ...commonContainerSettings,
    });
  }
}
