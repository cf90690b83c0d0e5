// What every phase of a run shares: the bench topology, signing keys and tokens, the backbone PKI,
// the one upstream, and the generated POP bootstrap of the measured POP (edge/pop.ts with a
// placement that puts its listeners on fresh loopback ports and its clusters at the upstream).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Topology } from "../../infra/topology/model.ts";
import { localCluster, peerCluster } from "../../infra/topology/names.ts";
import { backboneTlsPaths, ensureBackbonePki, type BackbonePki } from "../../edge/backbone-pki.ts";
import type { Bootstrap } from "../../edge/envoy-api.ts";
import { ensureFilterWasm } from "../../edge/envoy-validation.ts";
import { regionRouterConfig } from "../../edge/filter-config.ts";
import { freePorts } from "../../edge/loopback-edge.ts";
import type { Endpoint, Placement, PopListeners } from "../../edge/placement.ts";
import { ensurePublicPki } from "../../edge/public-tls.ts";
import { writeJwtAuthn } from "../../edge/jwt-authn.ts";
import { popBootstrap } from "../../edge/pop.ts";
import { ensureSigningKeys } from "../../upstreams/tokens/keys.ts";
import { signToken } from "../../upstreams/tokens/sign.ts";
import type { ArmContext } from "./arms.ts";
import { withClusterEndpoints } from "./bootstrap-edits.ts";
import { HOME_REGION, MEASURED_POP, PEER_REGION, routeBenchTopology } from "./topology.ts";
import { startBenchUpstream, type BenchUpstream } from "./upstream.ts";

/** The proxy under test runs on this CPU; client and upstream on the other. */
export const PROXY_CPUS = "0";
export const CLIENT_CPUS = "1";
export const TOKENS_PER_REGION = 32;

export interface MeasuredPop {
  bootstrap: Bootstrap;
  listeners: PopListeners;
  url: string;
  adminUrl: string;
}

export interface BenchSession {
  dir: string;
  topology: Topology;
  context: ArmContext;
  upstream: BenchUpstream;
  /** A freshly generated bootstrap of the measured POP on new ports, clusters at the upstream. */
  generatePop(): Promise<MeasuredPop>;
  stop(): Promise<void>;
}

/** The measured POP's listeners are its own; every upstream it can name is a bench upstream listener. */
function benchPlacement(topology: Topology, listeners: PopListeners, upstream: BenchUpstream): Placement {
  const at = (cluster: string) => {
    const endpoint = upstream.endpointOf(cluster);
    if (!endpoint) throw new Error(`the bench upstream has no listener for cluster ${cluster}`);
    return endpoint;
  };
  const notInBench = (what: string) => () => {
    throw new Error(`the routing bench runs no ${what}`);
  };
  return {
    clusterType: "STATIC",
    popListeners: () => listeners,
    publicTlsPort: () => listeners.clientTls.port,
    popBackboneEndpoint: (region) => at(peerCluster(region)),
    // All app listeners of the region; withClusterEndpoints then gives each app's cluster its own.
    ingressEndpoints: (region) => topology.apps.map((app) => at(localCluster(app.name, region))),
    ingressListeners: notInBench("ingress"),
    appEndpoints: notInBench("app server"),
    discoveryEndpoint: () => upstream.discovery("directory"),
  };
}

export async function openSession(): Promise<BenchSession> {
  const topology = routeBenchTopology();
  const dir = mkdtempSync(join(tmpdir(), "edgerim-route-bench-"));
  let upstream: BenchUpstream | null = null;
  try {
    const keys = ensureSigningKeys(join(dir, "state"));
    const pki: BackbonePki = ensureBackbonePki(topology, join(dir, "state", "backbone"));
    const tlsPaths = backboneTlsPaths(pki);
    const ports = await freePorts(32);
    let next = 0;
    const port = () => {
      const value = ports[next++];
      if (value === undefined) throw new Error("the bench upstream needs more ports");
      return value;
    };
    upstream = await startBenchUpstream({
      topology,
      homeRegion: HOME_REGION,
      peerTls: (region) => tlsPaths(region, topology.regions.find((candidate) => candidate.name === region)!.pops[0]!.name),
      ports: port,
      dir,
      cpus: CLIENT_CPUS,
    });
    const tokens = new Map(
      topology.regions.map((region) => [
        region.name,
        Array.from({ length: TOKENS_PER_REGION }, (_, user) =>
          signToken({
            user: `${region.name}-user-${user}`,
            region: region.name,
            ttlSeconds: 24 * 3600,
            issuer: topology.jwt.issuer,
            audience: topology.jwt.audiences,
            regionClaim: topology.jwt.regionClaim,
            key: keys.privateKey,
          }),
        ),
      ]),
    );
    const context: ArmContext = {
      topology,
      region: HOME_REGION,
      peer: PEER_REGION,
      routerConfig: regionRouterConfig(topology, HOME_REGION, MEASURED_POP),
      upstream,
      tokens,
    };
    const started = upstream;
    const publicTls = ensurePublicPki(topology, join(dir, "state", "public-tls")).sdsFile;
    const inputs = { wasmPath: ensureFilterWasm(), jwtAuthn: writeJwtAuthn(join(dir, "state", "jwt", "envoy"), topology, keys.jwks), topologyPath: "bench/route/topology.ts", backboneTls: tlsPaths, publicTls };
    return {
      dir,
      topology,
      context,
      upstream: started,
      async generatePop() {
        const [client, clientTls, backbone, admin, stats] = (await freePorts(5)).map((value) => ({ address: "127.0.0.1", port: value })) as [
          Endpoint, Endpoint, Endpoint, Endpoint, Endpoint,
        ];
        const listeners = { client, clientTls, backbone, admin, stats };
        const generated = popBootstrap(topology, HOME_REGION, MEASURED_POP, benchPlacement(topology, listeners, started), inputs);
        return {
          bootstrap: withClusterEndpoints(generated, (cluster) => started.endpointOf(cluster)),
          listeners,
          url: `http://127.0.0.1:${client.port}`,
          adminUrl: `http://127.0.0.1:${admin.port}`,
        };
      },
      async stop() {
        await started.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
