import { Construct } from "constructs";
import { Container } from "@cdktf/provider-docker/lib/container/index.js";
import type { DockerProvider } from "@cdktf/provider-docker/lib/provider/index.js";
import { commonContainerSettings, ENVOY_FILES, httpHealthcheck } from "./container-settings.ts";
import { objectLabels } from "./labels.ts";
import { CONTAINER_PUBLIC_TLS } from "../../edge/placement.ts";

export interface PublishedPort {
  host: number;
  container: number;
  /** Host address the port is published on: 127.0.0.1 unless peers on other hosts must reach it. */
  hostAddress: string;
}

/** Where the deploy finds a POP's jwt_authn file; only `settingsVersion` changing replaces a container. */
export interface JwtAuthnSource {
  sourcePath: string;
  settingsVersion: string;
}

/** A POP's backbone TLS material, uploaded into its container at ENVOY_FILES.backbone*. */
export interface PopBackboneTls {
  caCertPem: string;
  certPem: string;
  /** Host path of the private key: uploaded from the file, so the key never enters the Terraform plan or state. */
  keyPath: string;
  /** Changes whenever the key does (key and certificate are issued together), so a new key replaces the container. */
  keyVersion: string;
}

export interface PopProps {
  provider: DockerProvider;
  project: string;
  region: string;
  containerName: string;
  image: string;
  envoyConfig: string;
  filterWasmBase64: string;
  /** The token check (ECDS file, keys inline): its host path, and the version of its non-key settings. */
  jwtAuthn: JwtAuthnSource;
  backboneTls: PopBackboneTls;
  backboneNetwork: string;
  datacenterNetwork: string;
  client: PublishedPort;
  clientTls: PublishedPort;
  /** Host path of the POP's public-certificate SDS file (key included): uploaded from the file, never through the plan. */
  publicTlsSdsPath: string;
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
    const published = [props.client, props.clientTls, props.stats, ...(props.backbone ? [props.backbone] : [])];
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
        // Keys rotate in place (npm run rotate -- jwks); a new issuer or audience replaces the container.
        { file: ENVOY_FILES.jwtAuthn, source: props.jwtAuthn.sourcePath, sourceHash: props.jwtAuthn.settingsVersion, permissions: "0644" },
        { file: ENVOY_FILES.backboneCa, content: props.backboneTls.caCertPem, permissions: "0644" },
        { file: ENVOY_FILES.backboneCert, content: props.backboneTls.certPem, permissions: "0644" },
        // Envoy runs as root in the image (no USER; the entrypoint is envoy itself), so 0600 root-owned is readable to it alone.
        { file: ENVOY_FILES.backboneKey, source: props.backboneTls.keyPath, sourceHash: props.backboneTls.keyVersion, permissions: "0600" },
        // The certificate a new container starts with. A rotation (npm run rotate -- certs) replaces
        // the file inside the running container, so the upload does not track it: a new public
        // certificate never replaces a container.
        { file: CONTAINER_PUBLIC_TLS.sdsPath, source: props.publicTlsSdsPath, sourceHash: "public-tls-sds", permissions: "0600" },
      ],
      ulimit: [{ name: "nofile", soft: props.nofile, hard: props.nofile }],
      memory: props.memoryMb,
      healthcheck: httpHealthcheck(props.statsContainerPort, "/ready"),
      labels: objectLabels(props.project, "outer", "pop", props.region),
      ...commonContainerSettings,
    });
  }
}
