import type { Topology } from "./topology/model.ts";
import { bootstrapYaml, renderProxies } from "../edge/bootstraps.ts";
import { CONTAINER_JWT_AUTHN, CONTAINER_WASM_PATH, dockerBackboneTls, dockerPublicTls, dockerPlacement } from "../edge/placement.ts";

/** The rendered Envoy bootstrap of every POP and ingress container, by container name (Docker placement). */
export function renderDockerEnvoyConfigs(topology: Topology, topologyPath: string): Map<string, string> {
  const inputs = { wasmPath: CONTAINER_WASM_PATH, jwtAuthn: CONTAINER_JWT_AUTHN, topologyPath, backboneTls: dockerBackboneTls, publicTls: dockerPublicTls };
  return new Map(renderProxies(topology, dockerPlacement(topology), inputs).map((p) => [p.container, bootstrapYaml(p.bootstrap, topologyPath)]));
}
