// Runs a whole topology on 127.0.0.1 with real Envoy processes: every POP and ingress replica from the
// generated bootstraps (loopback placement), app replicas and discovery services as in-process servers.
// Each app replica answers with its container name as `instance`, as it does in Docker.
// Used by the loopback integration tests and the soak benchmark.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Topology } from "../infra/topology/model.ts";
import { appContainer, grpcService, popContainer, popId } from "../infra/topology/names.ts";
import { toolPath } from "../scripts/toolchain/paths.ts";
import { deployOutputs } from "../infra/commands/outputs.ts";
import type { DeployOutputs } from "../infra/deploy-outputs.ts";
import { listPops } from "../infra/topology/inventory.ts";
import { ensureSigningKeys, type SigningKeys } from "../upstreams/tokens/keys.ts";
import { startAppServer, type AppServer } from "../upstreams/app/server.ts";
import { startDiscoveryServer, type DiscoveryServer } from "../upstreams/discovery/server.ts";
import { backboneTlsPaths, ensureBackbonePki, type BackbonePki } from "./backbone-pki.ts";
import { bootstrapYaml, renderProxies } from "./bootstraps.ts";
import { waitClustersHealthy, waitEnvoyReady, type StartedEnvoy } from "./cluster-health.ts";
import { ensureFilterWasm } from "./envoy-validation.ts";
import { loopbackPlacement, type Placement } from "./placement.ts";
import { freePorts } from "./port-blocks.ts";
import { writeJwtAuthn } from "./jwt-authn.ts";
import { ensurePublicPki, PUBLIC_TLS_STATE_SUBDIR, type PublicPki } from "./public-tls.ts";

export interface LoopbackEdgeOptions {
  topologyPath?: string;
  /** Discovery answer delay per region, to exercise the filter's lookup timeout. */
  discoveryDelayMs?: Record<string, number>;
  envoyLogLevel?: string;
}

export type LoopbackEnvoy = StartedEnvoy;

/** What a client needs to be let onto a POP's backbone listener (mTLS, h2). */
export interface BackbonePeer {
  caCertPath: string;
  certPath: string;
  keyPath: string;
  /** The server's DNS SAN (its container name), for the client's hostname check. */
  servername: string;
}

export interface LoopbackEdge {
  placement: Placement;
  keys: SigningKeys;
  /** Backbone CA and POP certificates in the edge's temp dir. */
  pki: BackbonePki;
  /** Presents a valid certificate of a POP of another region (of the same POP when the topology has one region). */
  backbonePeer(region: string, pop: string): BackbonePeer;
  envoys: Map<string, LoopbackEnvoy>;
  discovery: Map<string, DiscoveryServer>;
  /** App replicas by instance, their container name (what their replies name). */
  apps: Map<string, AppServer>;
  clientUrl(region: string, pop: string): string;
  /** The POP's public TLS listener, `https://127.0.0.1:<port>`. */
  tlsUrl(region: string, pop: string): string;
  /** Public CA and POP certificates (with their SDS files) in the edge's temp dir. */
  publicPki: PublicPki;
  adminUrl(region: string, pop: string): string;
  statsUrl(region: string, pop: string): string;
  /** What `npm run deploy` would write to `.edge/outputs.json` for this edge: its POPs' client and stats URLs. */
  outputs(): DeployOutputs;
  /** Starts the Envoy `name` (a key of `envoys`) again from its bootstrap, after it was killed; resolves once it is ready. */
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

export { freePorts } from "./port-blocks.ts";

export async function startLoopbackEdge(topology: Topology, options: LoopbackEdgeOptions = {}): Promise<LoopbackEdge> {
  const dir = mkdtempSync(join(tmpdir(), "edgerim-loopback-"));
  // The placement asks for its ports one by one, in a fixed order: count them first.
  let needed = 0;
  loopbackPlacement(topology, () => needed++);
  const ports = await freePorts(needed);
  let next = 0;
  const placement = loopbackPlacement(topology, () => {
    const port = ports[next++];
    if (port === undefined) throw new Error("loopback placement needs more ports");
    return port;
  });
  const keys = ensureSigningKeys(join(dir, "state"));
  const pki = ensureBackbonePki(topology, join(dir, "state", "backbone"));
  const publicPki = ensurePublicPki(topology, join(dir, "state", PUBLIC_TLS_STATE_SUBDIR));
  const proxies = renderProxies(topology, placement, {
    wasmPath: ensureFilterWasm(),
    jwtAuthn: writeJwtAuthn(join(dir, "state", "jwt", "envoy"), topology, keys.jwks),
    topologyPath: options.topologyPath ?? "topology",
    backboneTls: backboneTlsPaths(pki),
    publicTls: publicPki.sdsFile,
  });
  const apps = new Map<string, AppServer>();
  const discovery = new Map<string, DiscoveryServer>();
  const envoys = new Map<string, LoopbackEnvoy>();
  const commands = new Map<string, { file: string; adminUrl: string }>();
  const envoy = toolPath("envoy");
  const launch = (name: string, file: string, adminUrl: string): LoopbackEnvoy => {
    const child = spawn(envoy, ["-c", file, "--disable-hot-restart", "--concurrency", "1", "-l", options.envoyLogLevel ?? "warning"], { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    const keep = (d: Buffer) => {
      log = (log + d.toString()).slice(-200_000);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const started = { name, process: child, adminUrl, log: () => log };
    envoys.set(name, started);
    commands.set(name, { file, adminUrl });
    return started;
  };
  const edge: LoopbackEdge = {
    placement,
    keys,
    pki,
    backbonePeer(region, pop) {
      const client = pki.pops.find((candidate) => candidate.region !== region) ?? pki.pop(region, pop);
      return { caCertPath: pki.ca.certPath, certPath: client.certPath, keyPath: client.keyPath, servername: popContainer(topology.project, region, pop) };
    },
    envoys,
    discovery,
    apps,
    clientUrl: (region, pop) => `http://127.0.0.1:${placement.popListeners(region, pop).client.port}`,
    tlsUrl: (region, pop) => `https://127.0.0.1:${placement.popListeners(region, pop).clientTls.port}`,
    publicPki,
    adminUrl: (region, pop) => `http://127.0.0.1:${placement.popListeners(region, pop).admin.port}`,
    statsUrl: (region, pop) => `http://127.0.0.1:${placement.popListeners(region, pop).stats.port}`,
    outputs: () =>
      deployOutputs(
        topology,
        listPops(topology).map(({ region, pop, id }) => ({
          id, region: region.name, pop: pop.name,
          clientUrl: edge.clientUrl(region.name, pop.name), tlsUrl: edge.tlsUrl(region.name, pop.name), statsUrl: edge.statsUrl(region.name, pop.name),
        })),
        publicPki.ca.certPath,
      ),
    async restart(name) {
      const command = commands.get(name);
      if (!command) throw new Error(`no loopback Envoy ${name}`);
      await waitEnvoyReady(launch(name, command.file, command.adminUrl), 20_000);
    },
    async stop() {
      for (const envoy of envoys.values()) envoy.process.kill("SIGKILL");
      await Promise.all([...apps.values(), ...discovery.values()].map((s) => s.close().catch(() => undefined)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const region of topology.regions) {
      for (const app of topology.apps) {
        for (const [i, at] of placement.appEndpoints(region.name, app.name).entries()) {
          const instance = appContainer(topology.project, app.name, region.name, i + 1);
          apps.set(instance, await startAppServer({
            app: app.name, region: region.name, datacenter: region.name, instance, host: at.address, port: at.port, grpcService: grpcService(app),
          }));
        }
      }
      const at = placement.discoveryEndpoint(region.name);
      discovery.set(region.name, await startDiscoveryServer({ tenants: topology.tenants, host: at.address, port: at.port, responseDelayMs: options.discoveryDelayMs?.[region.name] ?? 0 }));
    }
    for (const proxy of proxies) {
      const file = join(dir, `${proxy.container}.yaml`);
      writeFileSync(file, bootstrapYaml(proxy.bootstrap, options.topologyPath ?? "topology"));
      const admin = proxy.kind === "pop" ? placement.popListeners(proxy.region, proxy.pop).admin : placement.ingressListeners(proxy.region, proxy.replica).admin;
      launch(proxy.kind === "pop" ? popId(proxy.region, proxy.pop) : proxy.container, file, `http://${admin.address}:${admin.port}`);
    }
    await Promise.all([...envoys.values()].map((e) => waitEnvoyReady(e, 20_000)));
    await Promise.all([...envoys.values()].map((e) => waitClustersHealthy(e.adminUrl, 20_000)));
    return edge;
  } catch (e) {
    await edge.stop();
    throw e;
  }
}
