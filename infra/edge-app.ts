import { App } from "cdktf";
import type { Topology } from "./topology/model.ts";
import type { DeployInputs } from "./deploy-inputs.ts";
import { SharedStack } from "./stacks/shared-stack.ts";
import { RegionStack } from "./stacks/region-stack.ts";
import { backboneNetworkName } from "./network-names.ts";

export function sharedStackName(topology: Topology): string {
  return `${topology.project}-shared`;
}

export function regionStackName(topology: Topology, region: string): string {
  return `${topology.project}-${region}`;
}

/** One shared stack and one stack per region, so `cdktf deploy <region stack>` touches only that region. */
export function buildEdgeApp(app: App, topology: Topology, inputs: DeployInputs): { shared: SharedStack; regions: RegionStack[] } {
  const shared = new SharedStack(app, sharedStackName(topology), {
    project: topology.project,
    stateDir: inputs.stateDir,
    backboneNetwork: backboneNetworkName(topology.project),
    images: inputs.images,
    anyLocalRegion: topology.regions.some((region) => region.dockerHost === undefined),
  });
  const regions = topology.regions.map((region) => {
    const stack = new RegionStack(app, regionStackName(topology, region.name), { topology, region, inputs });
    stack.addDependency(shared);
    return stack;
  });
  return { shared, regions };
}
