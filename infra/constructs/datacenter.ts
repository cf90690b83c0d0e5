import { Construct } from "constructs";
import { Container } from "@cdktf/provider-docker/lib/container/index.js";
import type { DockerProvider } from "@cdktf/provider-docker/lib/provider/index.js";
import { commonContainerSettings, ENVOY_FILES, httpHealthcheck } from "./container-settings.ts";
import { objectLabels } from "./labels.ts";
import { SERVICE_HEALTH_PATH } from "../topology/names.ts";

export interface IngressReplica {
  containerName: string;
  envoyConfig: string;
}

export interface AppReplica {
  app: string;
  instance: number;
  containerName: string;
  /** The gRPC service of a gRPC app's replica (names.ts grpcService); absent for an http app. */
  grpcService?: string;
}

export interface DatacenterProps {
  provider: DockerProvider;
  project: string;
  region: string;
  network: string;
  /** The network every region's POPs share; the discovery service joins it, since the tenant directory is global. */
  backboneNetwork: string;
  envoyImage: string;
  upstreamsImage: string;
  ingress: IngressReplica[];
  apps: AppReplica[];
  discoveryContainer: string;
  /** The topology YAML the discovery service serves its tenants directory from. */
  topologyYaml: string;
  ports: { app: number; discovery: number; envoyStats: number };
  concurrency: number;
  nofile: number;
  memoryMb: { ingress: number; app: number; discovery: number };
}

const TOPOLOGY_FILE = "/etc/edgerim/topology.yaml";

/** The inner rim of one region: ingress Envoys in front of the app replicas, and the discovery service. */
export class Datacenter extends Construct {
  readonly containers: Container[] = [];

  constructor(scope: Construct, id: string, props: DatacenterProps) {
    super(scope, id);
    const network = (name: string) => [{ name: props.network, aliases: [name] }];

    for (const ingress of props.ingress) {
      this.containers.push(new Container(this, ingress.containerName, {
        provider: props.provider,
        name: ingress.containerName,
        hostname: ingress.containerName,
        image: props.envoyImage,
        command: ["-c", ENVOY_FILES.config, "--concurrency", String(props.concurrency), "--service-node", ingress.containerName],
        networksAdvanced: network(ingress.containerName),
        upload: [{ file: ENVOY_FILES.config, content: ingress.envoyConfig }],
        ulimit: [{ name: "nofile", soft: props.nofile, hard: props.nofile }],
        memory: props.memoryMb.ingress,
        healthcheck: httpHealthcheck(props.ports.envoyStats, "/ready"),
        labels: objectLabels(props.project, "inner", "ingress", props.region),
        ...commonContainerSettings,
      }));
    }

    for (const replica of props.apps) {
      this.containers.push(new Container(this, replica.containerName, {
        provider: props.provider,
        name: replica.containerName,
        hostname: replica.containerName,
        image: props.upstreamsImage,
        command: ["/srv/edgerim/app.mjs"],
        env: [
          `APP_NAME=${replica.app}`,
          `REGION=${props.region}`,
          `DATACENTER=${props.region}`,
          `INSTANCE=${replica.containerName}`,
          `PORT=${props.ports.app}`,
          ...(replica.grpcService !== undefined ? [`GRPC_SERVICE=${replica.grpcService}`] : []),
        ],
        networksAdvanced: network(replica.containerName),
        memory: props.memoryMb.app,
        healthcheck: httpHealthcheck(props.ports.app, SERVICE_HEALTH_PATH),
        labels: objectLabels(props.project, "inner", "app", props.region),
        ...commonContainerSettings,
      }));
    }

    this.containers.push(new Container(this, "discovery", {
      provider: props.provider,
      name: props.discoveryContainer,
      hostname: props.discoveryContainer,
      image: props.upstreamsImage,
      command: ["/srv/edgerim/discovery.mjs"],
      env: [`EDGE_TOPOLOGY=${TOPOLOGY_FILE}`, `PORT=${props.ports.discovery}`],
      upload: [{ file: TOPOLOGY_FILE, content: props.topologyYaml }],
      networksAdvanced: [...network(props.discoveryContainer), { name: props.backboneNetwork, aliases: [props.discoveryContainer] }],
      memory: props.memoryMb.discovery,
      healthcheck: httpHealthcheck(props.ports.discovery, SERVICE_HEALTH_PATH),
      labels: objectLabels(props.project, "inner", "discovery", props.region),
      ...commonContainerSettings,
    }));
  }
}
