// The request list every load generator replays in a loop: each of the region router's paths in a
// fixed share, interleaved by a seeded shuffle so every window of a few hundred requests carries
// the whole mix.
import type { Topology } from "../infra/topology/model.ts";
import { signToken } from "../upstreams/tokens/sign.ts";
import type { KeyObject } from "node:crypto";
import { HOME_REGION, PEER_REGION, UNLISTED_REGION, UNROUTED_PREFIX, type SoakTenants } from "./soak-topology.ts";

export type RequestKind =
  | "local-user"
  | "peer-user"
  | "home-tenant"
  | "peer-tenant"
  | "unknown-tenant"
  | "unlisted-region"
  | "no-app";

export interface MixShare {
  /** Requests of this kind per 1000. */
  perMille: number;
  /** Status the entry POP answers with. */
  status: number;
  /** What the filter does with it. */
  path: string;
}

export const MIX: Record<RequestKind, MixShare> = {
  "local-user": { perMille: 250, status: 200, path: "JWT of the home region: local datacenter" },
  "peer-user": { perMille: 150, status: 200, path: "JWT of the peer region: one sideways hop" },
  "home-tenant": { perMille: 200, status: 200, path: "Host lookup, home tenant: discovery or cache, local" },
  "peer-tenant": { perMille: 100, status: 200, path: "Host lookup, peer tenant: discovery or cache, sideways hop" },
  "unknown-tenant": { perMille: 150, status: 200, path: "Host lookup, unknown tenant: negative cache, fallback region" },
  "unlisted-region": { perMille: 75, status: 403, path: "JWT claim naming no region: 403 unknown_region" },
  "no-app": { perMille: 75, status: 404, path: "path under no app prefix: 404 no_app" },
};

export interface SoakRequest {
  kind: RequestKind;
  path: string;
  /** Lowercase names; `host` always present. */
  headers: Record<string, string>;
}

/** Status counts the mix should produce over `requests` requests. */
export function expectedStatusShares(): Map<number, number> {
  const shares = new Map<number, number>();
  for (const share of Object.values(MIX)) shares.set(share.status, (shares.get(share.status) ?? 0) + share.perMille / 1000);
  return shares;
}

const HOT_HOSTS = 16;

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface MixInputs {
  topology: Topology;
  tenants: SoakTenants;
  signingKey: KeyObject;
  /** Authority sent with requests that carry a token (the filter ignores it for them). */
  popAuthority: string;
  /** Entries in the list; each tenant host should recur several times within it. */
  length?: number;
  /** Distinct users (tokens) per region. */
  usersPerRegion?: number;
}

export function buildTrafficMix(inputs: MixInputs): SoakRequest[] {
  const { topology, tenants } = inputs;
  const length = inputs.length ?? 20_000;
  const usersPerRegion = inputs.usersPerRegion ?? 32;
  const random = seededRandom(0x50a6);
  // Valid for any soak length: a token expiring mid-run would turn users into anonymous requests.
  const tokenFor = (region: string, user: number) =>
    signToken({
      user: `${region}-user-${user}`,
      region,
      ttlSeconds: 24 * 3600,
      issuer: topology.jwt.issuer,
      audience: topology.jwt.audiences,
      regionClaim: topology.jwt.regionClaim,
      key: inputs.signingKey,
    });
  const tokens = (region: string) => Array.from({ length: usersPerRegion }, (_, user) => tokenFor(region, user));
  const userTokens = new Map([HOME_REGION, PEER_REGION, UNLISTED_REGION].map((region) => [region, tokens(region)]));

  const cursors = new Map<string, number>();
  /** Next item of `pool`, round robin, so every host of a pool recurs at a steady interval. */
  const nextOf = <T>(name: string, pool: readonly T[]): T => {
    const index = cursors.get(name) ?? 0;
    cursors.set(name, index + 1);
    return pool[index % pool.length]!;
  };
  const appPath = (n: number) => {
    const app = topology.apps[n % topology.apps.length]!;
    // Some paths carry a query string: the filter must match the prefix on the path alone.
    return n % 5 === 0 ? `${app.prefix}/item-${n % 97}?page=${n % 7}` : `${app.prefix}/item-${n % 97}`;
  };
  // A quarter of host lookups arrive in upper case with a port, as some clients send them.
  const hostVariant = (host: string, n: number) => ((n >> 1) % 4 === 1 ? `${host.toUpperCase()}:443` : host);
  // Half of a pool's requests go to its few hot hosts, which stay cached (each recurs well within
  // the TTL at any useful rate); the other half walk every host of the pool, whose entries expire
  // before the walk comes back, so lookups, negative answers and cache rewrites never stop.
  const hot = { home: tenants.home.slice(0, HOT_HOSTS), peer: tenants.peer.slice(0, HOT_HOSTS), unknown: tenants.unknown.slice(0, HOT_HOSTS) };
  const tenantHostOf = (pool: keyof SoakTenants, n: number) =>
    hostVariant(n % 2 === 0 ? nextOf(`hot:${pool}`, hot[pool]) : nextOf(pool, tenants[pool]), n);
  const bearer = (region: string) => ({ host: inputs.popAuthority, authorization: `Bearer ${nextOf(`user:${region}`, userTokens.get(region)!)}` });

  const kinds: RequestKind[] = [];
  for (const [kind, share] of Object.entries(MIX) as [RequestKind, MixShare][]) {
    for (let i = 0; i < Math.round((length * share.perMille) / 1000); i++) kinds.push(kind);
  }
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }

  return kinds.map((kind, n): SoakRequest => {
    const path = appPath(n);
    switch (kind) {
      case "local-user":
        return { kind, path, headers: bearer(HOME_REGION) };
      case "peer-user":
        return { kind, path, headers: bearer(PEER_REGION) };
      case "unlisted-region":
        return { kind, path, headers: bearer(UNLISTED_REGION) };
      case "home-tenant":
        return { kind, path, headers: { host: tenantHostOf("home", n) } };
      case "peer-tenant":
        return { kind, path, headers: { host: tenantHostOf("peer", n) } };
      case "unknown-tenant":
        return { kind, path, headers: { host: tenantHostOf("unknown", n) } };
      case "no-app":
        return { kind, path: `${UNROUTED_PREFIX}/item-${n % 97}`, headers: { host: nextOf("home", tenants.home) } };
    }
  });
}
