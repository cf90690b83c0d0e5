import { DEFAULT_TOPOLOGY_PATH, loadTopology, validateTopology } from "../../infra/topology/load.ts";
import type { Topology } from "../../infra/topology/model.ts";

export const defaultTopology = (): Topology => loadTopology(DEFAULT_TOPOLOGY_PATH);

/** Four regions with 1, 3, 2 and 1 POPs, other apps and a region fallback: unlike the default in every count. */
export function fourRegionTopology(): Topology {
  return validateTopology({
    project: "rim4",
    jwt: { issuer: "https://id.rim4.test", audiences: ["rim4-web", "rim4-mobile"], regionClaim: "home" },
    apps: [
      { name: "media", prefix: "/media", placement: { failover: ["eu-central", "na-west"] } },
      { name: "auth", prefix: "/auth" },
      { name: "api", prefix: "/api/v1" },
    ],
    routing: { fallback: { policy: "region", region: "sa-east" }, maxHops: 1, discovery: { timeoutMs: 250, cacheTtlSeconds: 10 } },
    ports: { popClient: 10080, popBackbone: 10443, envoyAdmin: 10901, envoyStats: 10902, ingress: 10081 },
    resources: { memoryMb: { pop: 512, ingress: 160 } },
    regions: [
      {
        name: "na-west",
        jurisdiction: "na",
        pops: [{ name: "sfo", clientPort: 41001, statsPort: 42001, tlsPort: 41301 }],
        datacenter: { ingressReplicas: 2, apps: { media: { replicas: 3 }, auth: { replicas: 1 }, api: { replicas: 2 } } },
      },
      {
        name: "eu-central",
        jurisdiction: "eu",
        pops: [
          { name: "fra", clientPort: 41011, statsPort: 42011, tlsPort: 41311 },
          { name: "ams", clientPort: 41012, statsPort: 42012, tlsPort: 41312 },
          { name: "waw", clientPort: 41013, statsPort: 42013, tlsPort: 41313 },
        ],
        datacenter: { apps: { media: { replicas: 1 }, auth: { replicas: 1 }, api: { replicas: 1 } } },
      },
      {
        name: "sa-east",
        jurisdiction: "sa",
        pops: [
          { name: "gru", clientPort: 41021, statsPort: 42021, tlsPort: 41321 },
          { name: "scl", clientPort: 41022, statsPort: 42022, tlsPort: 41322 },
        ],
        datacenter: { apps: { media: { replicas: 1 }, auth: { replicas: 2 }, api: { replicas: 1 } } },
      },
      {
        name: "ap-north",
        jurisdiction: "apac",
        pops: [{ name: "nrt", clientPort: 41031, statsPort: 42031, tlsPort: 41331 }],
        datacenter: { ingressReplicas: 3, apps: { media: { replicas: 1 }, auth: { replicas: 1 }, api: { replicas: 4 } } },
      },
    ],
    tenants: [
      { host: "one.rim4.test", region: "na-west" },
      { host: "two.rim4.test", region: "ap-north" },
    ],
  });
}

/** A loopback port allocator for placements whose ports are never bound (rendering, validation). */
export function sequentialPorts(first = 30000): () => number {
  let next = first;
  return () => next++;
}
