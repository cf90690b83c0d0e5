import type { App, Pop, Region, Topology } from "./model.ts";
import { appContainer, discoveryContainer, ingressContainer, popContainer, popId } from "./names.ts";

/** What a topology deploys, enumerated once for infra/, edge/ and tests. */

export interface PopRef {
  region: Region;
  pop: Pop;
  /** Position of the POP in its region's list; fixes its backbone host port. */
  index: number;
  id: string;
}

export function listPops(topology: Topology): PopRef[] {
  return topology.regions.flatMap((region) =>
    region.pops.map((pop, index) => ({ region, pop, index, id: popId(region.name, pop.name) })),
  );
}

export function findRegion(topology: Topology, name: string): Region {
  const region = topology.regions.find((candidate) => candidate.name === name);
  if (!region) throw new Error(`unknown region ${JSON.stringify(name)}`);
  return region;
}

/** Replica count of `app` in a region's datacenter; validation guarantees every app is listed. */
export function replicaCount(region: Region, app: string): number {
  const entry = region.datacenter.apps[app];
  if (!entry) throw new Error(`region ${region.name} does not list app ${app}`);
  return entry.replicas;
}

/** Host port a POP publishes its backbone listener on; only regions with `dockerHost` publish one. */
export function backboneHostPort(region: Region, popIndex: number): number | undefined {
  return region.backbonePort === undefined ? undefined : region.backbonePort + popIndex;
}

export interface PublishedPort {
  port: number;
  /** Field path that claims the port. */
  owner: string;
  /** The region's Docker daemon, on whose host the port is published; undefined: this host, on 127.0.0.1. */
  dockerHost: string | undefined;
}

/** Every host port the topology publishes (all on 127.0.0.1, or on the region's Docker host). */
export function publishedHostPorts(topology: Topology): PublishedPort[] {
  return topology.regions.flatMap((region, r) =>
    region.pops.flatMap((pop, p) => {
      const { dockerHost } = region;
      const ports: PublishedPort[] = [
        { port: pop.clientPort, owner: `regions[${r}].pops[${p}].clientPort`, dockerHost },
        { port: pop.statsPort, owner: `regions[${r}].pops[${p}].statsPort`, dockerHost },
      ];
      const backbone = backboneHostPort(region, p);
      if (backbone !== undefined) {
        ports.push({ port: backbone, owner: `regions[${r}].backbonePort (+${p} for pops[${p}])`, dockerHost });
      }
      return ports;
    }),
  );
}

export type ContainerRole = "pop" | "ingress" | "app" | "discovery";

export interface ContainerRef {
  name: string;
  role: ContainerRole;
  region: string;
  /** Field path of the entity the container runs. */
  owner: string;
}

/** Every container the topology runs, named as in names.ts. */
export function listContainers(topology: Topology): ContainerRef[] {
  const { project } = topology;
  return topology.regions.flatMap((region, r) => {
    const containers: ContainerRef[] = region.pops.map((pop, p) => ({
      name: popContainer(project, region.name, pop.name),
      role: "pop",
      region: region.name,
      owner: `regions[${r}].pops[${p}]`,
    }));
    for (let replica = 1; replica <= region.datacenter.ingressReplicas; replica++) {
      containers.push({
        name: ingressContainer(project, region.name, replica),
        role: "ingress",
        region: region.name,
        owner: `regions[${r}].datacenter.ingressReplicas`,
      });
    }
    for (const app of topology.apps) {
      const replicas = region.datacenter.apps[app.name]?.replicas ?? 0;
      for (let replica = 1; replica <= replicas; replica++) {
        containers.push({
          name: appContainer(project, app.name, region.name, replica),
          role: "app",
          region: region.name,
          owner: `regions[${r}].datacenter.apps.${app.name}`,
        });
      }
    }
    containers.push({
      name: discoveryContainer(project, region.name),
      role: "discovery",
      region: region.name,
      owner: `regions[${r}].name`,
    });
    return containers;
  });
}

/**
 * Regions that may serve `app` for requests owned by `owner`, in the order they are tried: the
 * owner first, then the app's failover regions (without the owner, each once), then, for a
 * residency-bound app, only those in the owner's jurisdiction. `owner-only` gives just the owner.
 */
export function servingOrder(topology: Topology, app: App, owner: string): string[] {
  const home = findRegion(topology, owner);
  const { failover } = app.placement === "owner-only" ? { failover: [] as string[] } : app.placement;
  const candidates =
    failover === "any"
      ? topology.regions.map((region) => region.name)
      : failover === "same-jurisdiction"
        ? topology.regions.filter((region) => region.jurisdiction === home.jurisdiction).map((region) => region.name)
        : failover;
  const order = [owner];
  for (const name of candidates) {
    if (order.includes(name)) continue;
    if (app.residency === "jurisdiction" && findRegion(topology, name).jurisdiction !== home.jurisdiction) continue;
    order.push(name);
  }
  return order;
}

/** The most regions any owner's serving order for `app` names (1: owner-only for every owner). */
export function mostServingRegions(topology: Topology, app: App): number {
  return Math.max(...topology.regions.map((owner) => servingOrder(topology, app, owner.name).length));
}

/** Whether some owner's requests for `app` may be served by another region than the owner. */
export function failsOver(topology: Topology, app: App): boolean {
  return mostServingRegions(topology, app) > 1;
}
