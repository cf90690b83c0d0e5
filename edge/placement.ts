import type { Region, Topology } from "../infra/topology/model.ts";
import { backboneHostPort, findRegion, replicaCount } from "../infra/topology/inventory.ts";
import { appContainer, discoveryContainer, ingressContainer, popContainer } from "../infra/topology/names.ts";
import type { BackboneTlsFiles, BackboneTlsPaths } from "./backbone-tls.ts";
import type { PublicTlsFiles, PublicTlsPaths } from "./public-tls.ts";
import type { JwtAuthnFiles } from "./jwt-authn.ts";

/**
 * Where each proxy listens and how it reaches its neighbours. The builders take a placement, so
 * the same bootstrap renders for Docker containers and for processes on loopback in tests.
 */

export interface Endpoint {
  address: string;
  port: number;
}

export interface PopListeners {
  client: Endpoint;
  /** The public TLS listener. */
  clientTls: Endpoint;
  backbone: Endpoint;
  admin: Endpoint;
  stats: Endpoint;
}

export interface IngressListeners {
  ingress: Endpoint;
  admin: Endpoint;
  stats: Endpoint;
}

export interface Placement {
  popListeners(region: string, pop: string): PopListeners;
  /** The port clients dial for the POP's TLS listener (where a cleartext redirect points). */
  publicTlsPort(region: string, pop: string): number;
  /** How peer POPs reach this POP's backbone listener; `fromRegion` is the caller's region when known. */
  popBackboneEndpoint(region: string, pop: string, fromRegion?: string): Endpoint;
  /** How a region's POPs reach its datacenter ingress replicas. */
  ingressEndpoints(region: string): Endpoint[];
  ingressListeners(region: string, replica: number): IngressListeners;
  /** How the ingress reaches the app replicas. */
  appEndpoints(region: string, app: string): Endpoint[];
  discoveryEndpoint(region: string): Endpoint;
  /** Docker names need DNS (STRICT_DNS); loopback addresses are literal (STATIC). */
  clusterType: "STRICT_DNS" | "STATIC";
}

export interface RenderInputs {
  /** Compiled region-router module, as the proxy sees the path. */
  wasmPath: string;
  /** The POPs' jwt_authn config (keys inline), an ECDS file in a watched directory, as the proxy sees the paths. */
  jwtAuthn: JwtAuthnFiles;
  /** Topology file named in the generated header. */
  topologyPath: string;
  /** Each POP's backbone CA, certificate and key, as that POP's proxy sees the paths. */
  backboneTls: BackboneTlsPaths;
  /** Each POP's public certificate (an SDS file in a watched directory), as that POP's proxy sees the paths. */
  publicTls: PublicTlsPaths;
}

/** Path inside the Envoy containers where the deployment puts the filter module. */
export const CONTAINER_WASM_PATH = "/etc/edgerim/filters/region_router.wasm";
/** Every POP container reads its token check from the same file; JWKS rotations replace it in place. */
export const CONTAINER_JWT_AUTHN: JwtAuthnFiles = { path: "/etc/edgerim/jwt/jwt-authn.json", watchedDir: "/etc/edgerim/jwt" };
/** Every POP container holds its own certificate and key at the same paths. */
export const CONTAINER_BACKBONE_TLS: BackboneTlsFiles = {
  caCertPath: "/etc/edgerim/backbone/ca.crt",
  certPath: "/etc/edgerim/backbone/pop.crt",
  keyPath: "/etc/edgerim/backbone/pop.key",
};
export const dockerBackboneTls: BackboneTlsPaths = () => CONTAINER_BACKBONE_TLS;
/** Every POP container reads its public certificate from the same SDS file; rotations replace it in place. */
export const CONTAINER_PUBLIC_TLS: PublicTlsFiles = { sdsPath: "/etc/edgerim/public-tls/pop.yaml", watchedDir: "/etc/edgerim/public-tls" };
export const dockerPublicTls: PublicTlsPaths = () => CONTAINER_PUBLIC_TLS;

const ANY_ADDRESS = "0.0.0.0";
const LOOPBACK = "127.0.0.1";

function replicas(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index + 1);
}

/** Host part of an `ssh://[user@]host[:port]` or `tcp://host:port` Docker host. */
export function dockerHostAddress(dockerHost: string): string {
  const host = new URL(dockerHost).hostname;
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/**
 * Containers on a shared Docker network, reached by container name on their container ports.
 * A peer on another Docker host is reached at its region's `backboneAddress` on the backbone port its
 * POP publishes (`backbonePort + index`).
 */
export function dockerPlacement(topology: Topology): Placement {
  const { project, ports } = topology;
  const region = (name: string): Region => findRegion(topology, name);
  return {
    clusterType: "STRICT_DNS",
    popListeners: () => ({
      client: { address: ANY_ADDRESS, port: ports.popClient },
      clientTls: { address: ANY_ADDRESS, port: ports.popClientTls },
      backbone: { address: ANY_ADDRESS, port: ports.popBackbone },
      admin: { address: LOOPBACK, port: ports.envoyAdmin },
      stats: { address: ANY_ADDRESS, port: ports.envoyStats },
    }),
    publicTlsPort(regionName, popName) {
      const pop = region(regionName).pops.find((candidate) => candidate.name === popName);
      if (!pop) throw new Error(`unknown POP ${popName} in region ${regionName}`);
      return pop.tlsPort;
    },
    popBackboneEndpoint(regionName, popName, fromRegion) {
      const target = region(regionName);
      const from = fromRegion === undefined ? undefined : region(fromRegion);
      const index = target.pops.findIndex((pop) => pop.name === popName);
      if (index < 0) throw new Error(`unknown POP ${popName} in region ${regionName}`);
      const published = backboneHostPort(target, index);
      if (from && target.dockerHost !== undefined && from.dockerHost !== target.dockerHost && published !== undefined && target.backboneAddress !== undefined) {
        return { address: target.backboneAddress, port: published };
      }
      return { address: popContainer(project, regionName, popName), port: ports.popBackbone };
    },
    ingressEndpoints: (regionName) =>
      replicas(region(regionName).datacenter.ingressReplicas).map((replica) => ({
        address: ingressContainer(project, regionName, replica),
        port: ports.ingress,
      })),
    ingressListeners: () => ({
      ingress: { address: ANY_ADDRESS, port: ports.ingress },
      admin: { address: LOOPBACK, port: ports.envoyAdmin },
      stats: { address: ANY_ADDRESS, port: ports.envoyStats },
    }),
    appEndpoints: (regionName, app) =>
      replicas(replicaCount(region(regionName), app)).map((replica) => ({
        address: appContainer(project, app, regionName, replica),
        port: ports.app,
      })),
    discoveryEndpoint: (regionName) => ({ address: discoveryContainer(project, region(regionName).name), port: ports.discovery }),
  };
}

/**
 * Every proxy and service of the topology on 127.0.0.1, each listener on its own port from
 * `allocatePort` (called once per port, in a fixed order, when the placement is created).
 */
export function loopbackPlacement(topology: Topology, allocatePort: () => number): Placement {
  const at = (): Endpoint => ({ address: LOOPBACK, port: allocatePort() });
  const pops = new Map<string, PopListeners>();
  const ingresses = new Map<string, IngressListeners[]>();
  const apps = new Map<string, Endpoint[]>();
  const discovery = new Map<string, Endpoint>();
  for (const region of topology.regions) {
    for (const pop of region.pops) {
      pops.set(`${region.name}/${pop.name}`, { client: at(), clientTls: at(), backbone: at(), admin: at(), stats: at() });
    }
    ingresses.set(region.name, replicas(region.datacenter.ingressReplicas).map(() => ({ ingress: at(), admin: at(), stats: at() })));
    for (const app of topology.apps) {
      apps.set(`${region.name}/${app.name}`, replicas(replicaCount(region, app.name)).map(at));
    }
    discovery.set(region.name, at());
  }
  const lookup = <T>(map: Map<string, T>, key: string): T => {
    const value = map.get(key);
    if (value === undefined) throw new Error(`no loopback placement for ${key}`);
    return value;
  };
  return {
    clusterType: "STATIC",
    popListeners: (region, pop) => lookup(pops, `${region}/${pop}`),
    publicTlsPort: (region, pop) => lookup(pops, `${region}/${pop}`).clientTls.port,
    popBackboneEndpoint: (region, pop) => lookup(pops, `${region}/${pop}`).backbone,
    ingressEndpoints: (region) => lookup(ingresses, region).map((listeners) => listeners.ingress),
    ingressListeners: (region, replica) => {
      const listeners = lookup(ingresses, region)[replica - 1];
      if (!listeners) throw new Error(`no ingress replica ${replica} in region ${region}`);
      return listeners;
    },
    appEndpoints: (region, app) => lookup(apps, `${region}/${app}`),
    discoveryEndpoint: (region) => lookup(discovery, region),
  };
}
