import {
  delayResponse,
  sendJson,
  startCleartextServer,
  requestPath,
  type ServiceRequest,
  type ServiceResponse,
} from "../http/cleartext-server.ts";
import { SERVICE_HEALTH_PATH, TENANT_PATH_PREFIX } from "../../infra/topology/names.ts";
import { integerEnv, isEntryPoint, logEvent, runService, type RunningService } from "../service-process.ts";
import { loadTopology } from "../../infra/topology/load.ts";
import { TenantDirectory, type TenantEntry } from "./tenant-directory.ts";

export interface DiscoveryServerOptions {
  tenants: readonly TenantEntry[];
  host?: string;
  port?: number;
  /** Delay before every tenant answer, to exercise callers' timeouts. */
  responseDelayMs?: number;
  drainDeadlineMs?: number;
}

/** Counts since start: every tenant lookup is either a hit (200) or a miss (404). */
export interface DiscoveryMetrics {
  lookups: number;
  hits: number;
  misses: number;
}

export interface DiscoveryServer extends RunningService {
  readonly url: string;
  metrics(): DiscoveryMetrics;
}

const TENANT_PATH = TENANT_PATH_PREFIX;

export async function startDiscoveryServer(options: DiscoveryServerOptions): Promise<DiscoveryServer> {
  const directory = new TenantDirectory(options.tenants);
  const counts: DiscoveryMetrics = { lookups: 0, hits: 0, misses: 0 };
  const delayMs = options.responseDelayMs ?? 0;

  const handle = async (req: ServiceRequest, res: ServiceResponse): Promise<void> => {
    const path = requestPath(req);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      sendJson(res, 405, { error: "method_not_allowed" });
      return;
    }
    if (path === SERVICE_HEALTH_PATH) {
      if (server.draining) sendJson(res, 503, { status: "draining" });
      else sendJson(res, 200, { status: "ok", tenants: directory.size });
      return;
    }
    if (path === "/metrics") {
      sendJson(res, 200, { ...counts });
      return;
    }
    if (!path.startsWith(TENANT_PATH)) {
      sendJson(res, 404, { error: "not_found" });
      return;
    }
    counts.lookups += 1;
    let host: string;
    try {
      host = decodeURIComponent(path.slice(TENANT_PATH.length));
    } catch {
      host = "";
    }
    const tenant = host.includes("/") ? undefined : directory.lookup(host);
    if (tenant) counts.hits += 1;
    else counts.misses += 1;
    if (delayMs > 0 && !(await delayResponse(res, delayMs))) return;
    if (tenant) sendJson(res, 200, { host: tenant.host, region: tenant.region });
    else sendJson(res, 404, { error: "unknown_tenant" });
  };

  const server = await startCleartextServer({
    handler: handle,
    host: options.host,
    port: options.port,
    drainDeadlineMs: options.drainDeadlineMs,
  });
  return {
    port: server.port,
    url: server.url,
    metrics: () => ({ ...counts }),
    close: () => server.close(),
  };
}

if (isEntryPoint(import.meta.url)) {
  await runService("discovery", async () => {
    // The tenant directory is the topology's: EDGE_TOPOLOGY names the file, as for every other part.
    const topology = loadTopology();
    const host = process.env.HOST?.trim() || "0.0.0.0";
    const server = await startDiscoveryServer({
      tenants: topology.tenants,
      host,
      port: integerEnv(process.env, "PORT", 8080, 0, 65535),
      drainDeadlineMs: integerEnv(process.env, "DRAIN_DEADLINE_MS", 10_000, 0, 300_000),
    });
    logEvent("discovery", "listening", { host, port: server.port, tenants: topology.tenants.length });
    return server;
  });
}
