// The topology the soak drives: a home region with ONE POP (the one measured) and a peer region
// that receives the sideways hops, plus enough tenants that the POP's tenant cache holds thousands
// of entries that keep expiring (1 s TTLs) while the soak runs.
import { validateTopology } from "../infra/topology/load.ts";
import type { Topology } from "../infra/topology/model.ts";

export const HOME_REGION = "home";
export const PEER_REGION = "peer";
/** Both regions share one jurisdiction; the soak measures caching, not residency. */
const JURISDICTION = "soak";
/** A region claim no topology region carries: the filter answers 403 unknown_region. */
export const UNLISTED_REGION = "elsewhere";
/** A path under no app prefix: the filter answers 404 no_app. */
export const UNROUTED_PREFIX = "/unrouted";

export interface SoakTenants {
  /** Hosts discovery places in the home region. */
  home: string[];
  /** Hosts discovery places in the peer region. */
  peer: string[];
  /** Hosts discovery does not know: negative cache, then the fallback region. */
  unknown: string[];
}

export const TENANT_COUNTS = { home: 1000, peer: 500, unknown: 500 } as const;

const hostName = (kind: string, index: number) => `${kind}-${String(index).padStart(4, "0")}.soak.test`;

export function soakTenants(): SoakTenants {
  const hosts = (kind: string, count: number) => Array.from({ length: count }, (_, index) => hostName(kind, index));
  return {
    home: hosts("home", TENANT_COUNTS.home),
    peer: hosts("peer", TENANT_COUNTS.peer),
    unknown: hosts("ghost", TENANT_COUNTS.unknown),
  };
}

export function soakTopology(): Topology {
  const tenants = soakTenants();
  return validateTopology({
    project: "soak",
    jwt: { issuer: "https://login.soak.test", audiences: ["soak-api"] },
    apps: [
      { name: "cart", prefix: "/cart" },
      { name: "search", prefix: "/search" },
    ],
    routing: {
      // Unknown tenants are served by the home region, so the negative-cache path ends in a 200.
      fallback: { policy: "region", region: HOME_REGION },
      maxHops: 1,
      // The bench shares 2 cores among every proxy and upstream: a generous lookup timeout keeps CPU
      // starvation from turning into lookup failures, which are not what the soak measures. The 1 s
      // TTLs churn the cache on purpose, so the lookup rate bound is lifted: it must not shape the mix.
      discovery: { timeoutMs: 2000, cacheTtlSeconds: 1, negativeCacheTtlSeconds: 1, maxLookupsPerSecond: 100_000 },
    },
    regions: [
      {
        name: HOME_REGION,
        jurisdiction: JURISDICTION,
        pops: [{ name: "p1", clientPort: 38001, statsPort: 39001, tlsPort: 38301 }],
        datacenter: { ingressReplicas: 1, apps: { cart: { replicas: 2 }, search: { replicas: 1 } } },
      },
      {
        name: PEER_REGION,
        jurisdiction: JURISDICTION,
        pops: [{ name: "p1", clientPort: 38011, statsPort: 39011, tlsPort: 38311 }],
        datacenter: { ingressReplicas: 1, apps: { cart: { replicas: 1 }, search: { replicas: 1 } } },
      },
    ],
    tenants: [
      ...tenants.home.map((host) => ({ host, region: HOME_REGION })),
      ...tenants.peer.map((host) => ({ host, region: PEER_REGION })),
    ],
  });
}
