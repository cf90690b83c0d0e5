import { mkdirSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import { stringify } from "yaml";
import type { Topology } from "../infra/topology/model.ts";
import { listPops } from "../infra/topology/inventory.ts";
import { ingressContainer, popContainer } from "../infra/topology/names.ts";
import { repoRoot } from "../scripts/toolchain/paths.ts";
import type { Bootstrap } from "./envoy-api.ts";
import { regionRouterConfig, type RegionRouterConfig } from "./filter-config.ts";
import { ingressBootstrap } from "./ingress.ts";
import type { Placement, RenderInputs } from "./placement.ts";
import { popBootstrap } from "./pop.ts";

/** Every Envoy bootstrap of a topology, one per POP and per datacenter ingress replica. */

export type RenderedProxy =
  | { kind: "pop"; container: string; region: string; pop: string; bootstrap: Bootstrap; filterConfig: RegionRouterConfig }
  | { kind: "ingress"; container: string; region: string; replica: number; bootstrap: Bootstrap };

export function renderProxies(topology: Topology, placement: Placement, inputs: RenderInputs): RenderedProxy[] {
  const pops: RenderedProxy[] = listPops(topology).map(({ region, pop }) => ({
    kind: "pop",
    container: popContainer(topology.project, region.name, pop.name),
    region: region.name,
    pop: pop.name,
    bootstrap: popBootstrap(topology, region.name, pop.name, placement, inputs),
    filterConfig: regionRouterConfig(topology, region.name, pop.name),
  }));
  const ingresses: RenderedProxy[] = topology.regions.flatMap((region) =>
    Array.from({ length: region.datacenter.ingressReplicas }, (_, index) => ({
      kind: "ingress" as const,
      container: ingressContainer(topology.project, region.name, index + 1),
      region: region.name,
      replica: index + 1,
      bootstrap: ingressBootstrap(topology, region.name, index + 1, placement),
    })),
  );
  return [...pops, ...ingresses];
}

/** The topology path as written in generated files: relative to the repository when inside it. */
export function displayPath(path: string): string {
  const inside = relative(repoRoot, path);
  return inside !== "" && !inside.startsWith("..") && !isAbsolute(inside) ? inside : path;
}

export function generatedHeader(topologyPath: string): string {
  return `# generated from the topology (${displayPath(topologyPath)}); do not edit`;
}

export function bootstrapYaml(bootstrap: Bootstrap, topologyPath: string): string {
  return `${generatedHeader(topologyPath)}\n${stringify(bootstrap, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

export function bootstrapFileName(proxy: RenderedProxy): string {
  return `${proxy.container}.yaml`;
}

/** Writes `<container>.yaml` per proxy and `region-router/<pop id>.json` per POP; returns the bootstrap paths. */
export function writeProxies(dir: string, proxies: RenderedProxy[], inputs: RenderInputs): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const proxy of proxies) {
    const file = join(dir, bootstrapFileName(proxy));
    writeFileSync(file, bootstrapYaml(proxy.bootstrap, inputs.topologyPath));
    written.push(file);
    if (proxy.kind === "pop") {
      mkdirSync(join(dir, "region-router"), { recursive: true });
      writeFileSync(join(dir, "region-router", `${proxy.filterConfig.pop}.json`), `${JSON.stringify(proxy.filterConfig, null, 2)}\n`);
    }
  }
  return written;
}
