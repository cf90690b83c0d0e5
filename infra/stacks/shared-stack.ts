import type { Construct } from "constructs";
import { Network } from "@cdktf/provider-docker/lib/network/index.js";
import { Image } from "@cdktf/provider-docker/lib/image/index.js";
import { objectLabels } from "../constructs/labels.ts";
import { EdgeStack } from "./edge-stack.ts";
import type { DeployImages } from "../deploy-inputs.ts";

export interface SharedStackProps {
  project: string;
  stateDir: string;
  backboneNetwork: string;
  images: DeployImages;
  /** False when every region has its own Docker host: then nothing is shared on this one. */
  anyLocalRegion: boolean;
}

/** What every region shares on the local Docker host: the backbone network joining all POPs, and the images. */
export class SharedStack extends EdgeStack {
  constructor(scope: Construct, name: string, props: SharedStackProps) {
    super(scope, name, props.stateDir);
    if (!props.anyLocalRegion) return;
    new Network(this, "backbone", {
      name: props.backboneNetwork,
      driver: "bridge",
      labels: objectLabels(props.project, "backbone", "network"),
    });
    // The Envoy image is the toolchain's (npm run setup builds it) and outlives a destroy; the
    // services image is built by the deploy and removed with it.
    new Image(this, "envoy-image", { name: props.images.envoy, keepLocally: true });
    new Image(this, "upstreams-image", { name: props.images.upstreams, keepLocally: false });
  }
}
