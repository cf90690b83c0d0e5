// The network the page draws, from the same topology model as docs/architecture.md's diagram
// (edge/diagram.ts): regions, their POPs (outer rim), their datacenters with apps and replicas
// (inner rim), and the backbone between every pair of regions.
import type { Topology } from "../../infra/topology/model.ts";
import { replicaCount } from "../../infra/topology/inventory.ts";
import { appContainer, popId } from "../../infra/topology/names.ts";
import type { NetworkModel } from "./wire.ts";

export function networkModel(topology: Topology): NetworkModel {
  return {
    project: topology.project,
    regions: topology.regions.map((region) => ({
      name: region.name,
      jurisdiction: region.jurisdiction,
      pops: region.pops.map((pop) => ({ id: popId(region.name, pop.name), name: pop.name })),
      datacenter: {
        ingressReplicas: region.datacenter.ingressReplicas,
        apps: topology.apps.map((app) => ({
          name: app.name,
          // Every app replica answers with its container name as `instance`, in Docker and on loopback.
          instances: Array.from({ length: replicaCount(region, app.name) }, (_, i) => appContainer(topology.project, app.name, region.name, i + 1)),
        })),
      },
    })),
    apps: topology.apps.map((app) => ({ name: app.name, prefix: app.prefix })),
    tenants: topology.tenants.map((tenant) => ({ host: tenant.host, region: tenant.region })),
    backbone: topology.regions.flatMap((region, index) => topology.regions.slice(index + 1).map((peer): [string, string] => [region.name, peer.name])),
  };
}
