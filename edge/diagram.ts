import type { Topology } from "../infra/topology/model.ts";
import { replicaCount } from "../infra/topology/inventory.ts";
import { localCluster, peerCluster, popId } from "../infra/topology/names.ts";

/** Mermaid flowchart of the rims of every region, generated from the topology. */

function id(...parts: string[]): string {
  return parts.join("_").replace(/[^A-Za-z0-9_]/g, "_");
}

export function mermaidDiagram(topology: Topology): string {
  const lines = ["flowchart LR", "  client([client])"];
  for (const region of topology.regions) {
    const r = region.name;
    lines.push(`  subgraph ${id(r)}["region ${r}"]`);
    lines.push(`    subgraph ${id(r, "outer")}["outer rim: POPs"]`);
    for (const pop of region.pops) lines.push(`      ${id(r, pop.name)}["${popId(r, pop.name)}<br/>Envoy + region router"]`);
    lines.push("    end");
    lines.push(`    subgraph ${id(r, "inner")}["inner rim: datacenter"]`);
    lines.push(`      ${id(r, "ingress")}["ingress ×${region.datacenter.ingressReplicas}"]`);
    for (const app of topology.apps) lines.push(`      ${id(r, "app", app.name)}["${app.name} ×${replicaCount(region, app.name)}"]`);
    lines.push("    end");
    lines.push(`    ${id(r, "discovery")}[("discovery")]`);
    lines.push("  end");
  }
  for (const region of topology.regions) {
    const r = region.name;
    lines.push(`  client --> ${id(r, "outer")}`);
    const clusters = topology.apps.map((app) => localCluster(app.name, r)).join(", ");
    lines.push(`  ${id(r, "outer")} -- "${clusters}" --> ${id(r, "ingress")}`);
    for (const app of topology.apps) lines.push(`  ${id(r, "ingress")} -- "${app.prefix}" --> ${id(r, "app", app.name)}`);
    lines.push(`  ${id(r, "outer")} -. "tenant lookup" .-> ${id(r, "discovery")}`);
  }
  topology.regions.forEach((region, index) => {
    for (const peer of topology.regions.slice(index + 1)) {
      lines.push(`  ${id(region.name, "outer")} <== "${peerCluster(peer.name)} / ${peerCluster(region.name)}" ==> ${id(peer.name, "outer")}`);
    }
  });
  return `${lines.join("\n")}\n`;
}
