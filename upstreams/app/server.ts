import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { hostname } from "node:os";
import { GRPC_SERVICE_PATTERN, SERVICE_HEALTH_PATH } from "../../infra/topology/names.ts";
import { serveProfileCall } from "../grpc/profile-service.ts";
import { isGrpcContentType } from "../grpc/wire.ts";
import { bearerSubject } from "../tokens/decode.ts";
import {
  delayResponse,
  firstHeader,
  sendJson,
  startCleartextServer,
  type ServiceRequest,
  type ServiceResponse,
} from "../http/cleartext-server.ts";
import {
  integerEnv,
  isEntryPoint,
  logEvent,
  requiredEnv,
  runService,
  ServiceConfigError,
  type RunningService,
} from "../service-process.ts";

export interface AppServerOptions {
  app: string;
  region: string;
  datacenter?: string;
  instance?: string;
  host?: string;
  port?: number;
  /**
   * Set for the replica of a gRPC app: the fully-qualified service it serves (its app's prefix
   * without the leading '/'), with the Profile methods (upstreams/grpc/profile.proto). Its gRPC calls
   * get gRPC answers; every other request (health, plain HTTP) is answered as by any app.
   */
  grpcService?: string;
  /** Simulated service time added before every non-health response. */
  responseDelayMs?: number;
  drainDeadlineMs?: number;
}

export interface AppServer extends RunningService {
  readonly url: string;
}

/** What the app answers on every path: where it runs and what the edge passed along. */
export interface AppReply {
  app: string;
  region: string;
  datacenter: string;
  instance: string;
  path: string;
  hops: number | null;
  user: string | null;
}

/** `x-edge-hops` as the app saw it: absent is 0; anything but a non-negative integer is reported as null. */
export function parseHops(value: string | undefined): number | null {
  if (value === undefined) return 0;
  return /^\d{1,6}$/.test(value.trim()) ? Number(value.trim()) : null;
}

export async function startAppServer(options: AppServerOptions): Promise<AppServer> {
  const identity = {
    app: options.app,
    region: options.region,
    datacenter: options.datacenter ?? options.region,
    instance: options.instance ?? hostname(),
  };
  const delayMs = options.responseDelayMs ?? 0;
  const grpcService = options.grpcService;

  const handle = async (req: ServiceRequest, res: ServiceResponse): Promise<void> => {
    const target = req.url ?? "/";
    if (target === SERVICE_HEALTH_PATH || target.startsWith(`${SERVICE_HEALTH_PATH}?`)) {
      if (server.draining) sendJson(res, 503, { status: "draining" });
      else sendJson(res, 200, { status: "ok", ...identity });
      return;
    }
    const reply: AppReply = {
      ...identity,
      path: target,
      hops: parseHops(firstHeader(req, "x-edge-hops")),
      user: bearerSubject(firstHeader(req, "authorization")),
    };
    // gRPC needs HTTP/2; a gRPC content type over HTTP/1.1 is answered as plain HTTP.
    if (grpcService !== undefined && req.httpVersionMajor === 2 && isGrpcContentType(firstHeader(req, "content-type"))) {
      serveProfileCall(req as Http2ServerRequest, res as Http2ServerResponse, grpcService, reply, delayMs);
      return;
    }
    if (delayMs > 0 && !(await delayResponse(res, delayMs))) return;
    sendJson(res, 200, reply);
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
    close: () => server.close(),
  };
}

function grpcServiceEnv(env: NodeJS.ProcessEnv): string | undefined {
  const value = env.GRPC_SERVICE?.trim();
  if (!value) return undefined;
  if (!GRPC_SERVICE_PATTERN.test(value)) {
    throw new ServiceConfigError(`GRPC_SERVICE=${value} is invalid; expected a fully-qualified gRPC service name such as edgerim.profile.v1.Profile`);
  }
  return value;
}

export function appOptionsFromEnv(env: NodeJS.ProcessEnv): AppServerOptions {
  return {
    app: requiredEnv(env, "APP_NAME", "the name of the app this replica serves (an app of the topology)"),
    region: requiredEnv(env, "REGION", "the region of the datacenter this replica runs in"),
    datacenter: env.DATACENTER?.trim() || undefined,
    instance: env.INSTANCE?.trim() || undefined,
    host: env.HOST?.trim() || "0.0.0.0",
    port: integerEnv(env, "PORT", 8080, 0, 65535),
    grpcService: grpcServiceEnv(env),
    responseDelayMs: integerEnv(env, "RESPONSE_DELAY_MS", 0, 0, 60_000),
    drainDeadlineMs: integerEnv(env, "DRAIN_DEADLINE_MS", 10_000, 0, 300_000),
  };
}

if (isEntryPoint(import.meta.url)) {
  await runService("app", async () => {
    const options = appOptionsFromEnv(process.env);
    const server = await startAppServer(options);
    logEvent("app", "listening", { app: options.app, region: options.region, host: options.host, port: server.port });
    return server;
  });
}
