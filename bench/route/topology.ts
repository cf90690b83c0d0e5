// The routing benchmark's own topology: the measured POP's region (`home`) and one peer region
// that its sideways hops go to, two apps, and a few known tenants per region. Discovery settings
// are the topology defaults (the "realistic" TTLs the flood runs with).
import { validateTopology } from "../../infra/topology/load.ts";
import type { Topology } from "../../infra/topology/model.ts";

export const HOME_REGION = "home";
export const PEER_REGION = "peer";
export const MEASURED_POP = "p1";
/** Both regions share one jurisdiction; the bench measures routing, not residency. */
const JURISDICTION = "bench";

/** Known tenants per region; C2 and the flood's known stream rotate over them. */
export const TENANTS_PER_REGION = 16;

export const tenantHost = (region: string, index: number) => `t${String(index).padStart(2, "0")}.${region}.route-bench.test`;

export function routeBenchTopology(): Topology {
  const tenants = [HOME_REGION, PEER_REGION].flatMap((region) =>
    Array.from({ length: TENANTS_PER_REGION }, (_, index) => ({ host: tenantHost(region, index), region })),
  );
  return validateTopology({
    project: "routebench",
    jwt: { issuer: "https://login.route-bench.test", audiences: ["route-bench-api"] },
    apps: [
      { name: "cart", prefix: "/cart" },
      { name: "search", prefix: "/search" },
    ],
    regions: [HOME_REGION, PEER_REGION].map((name, index) => ({
      name,
      jurisdiction: JURISDICTION,
      pops: [{ name: MEASURED_POP, clientPort: 38101 + index * 10, statsPort: 39101 + index * 10, tlsPort: 38401 + index * 10 }],
      datacenter: { ingressReplicas: 1, apps: { cart: { replicas: 1 }, search: { replicas: 1 } } },
    })),
    tenants,
  });
}
