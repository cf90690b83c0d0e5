// The compiled region router loaded into the proxy-wasm test host, with a fixture network:
// this POP is us-east-pop-a; the regions are us-east, eu-west and ap-southeast.
import assert from "node:assert/strict";
import { buildFilter, wasmPath } from "../build.ts";
import { routerFilterConfig } from "../../../edge/filter-config.ts";
import { ProxyWasmHost, type HeaderList, type HttpContextHandle, type ProxyWasmHostOptions } from "../../testing/index.ts";

buildFilter();

export { wasmPath };
export const START_MS = 1_700_000_000_000;
export const POP = "us-east-pop-a";
export const TENANT = "acme.edgerim.test";

export type RouterConfig = Record<string, unknown>;

/** The discovery settings of the fixture network. */
export const FIXTURE_DISCOVERY = {
  timeoutMs: 500, cacheTtlSeconds: 30, negativeCacheTtlSeconds: 5, negativeCacheMaxEntries: 4096,
  staleIfErrorSeconds: 600, maxConcurrentLookups: 64, maxLookupsPerSecond: 100_000, failureBackoffMs: 1000,
};

/** The fixture network's regions, in order. */
export const REGIONS = ["us-east", "eu-west", "ap-southeast"];

/** Serving lists of an owner-only app: each owner alone. */
export function ownerOnly(): string[][] {
  return REGIONS.map((region) => [region]);
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The plugin configuration of us-east-pop-a, built as every POP's is (edge/filter-config.ts), with
 * `overrides` merged over it; an object given for `discovery` is merged over its fields.
 */
export function routerConfig(overrides: RouterConfig = {}): RouterConfig {
  const config: RouterConfig = {
    ...routerFilterConfig({
      region: "us-east",
      pop: POP,
      regions: REGIONS,
      apps: [
        { prefix: "/catalog", app: "catalog", serving: ownerOnly() },
        { prefix: "/orders", app: "orders", serving: ownerOnly() },
      ],
      routing: {
        maxHops: 1, fallback: { policy: "reject" }, precedence: ["jwt", "tenant"], conflict: "prefer-first", discovery: FIXTURE_DISCOVERY,
      },
    }),
  };
  const discovery = config["discovery"];
  for (const [key, value] of Object.entries(overrides)) {
    config[key] = key === "discovery" && isObject(value) && isObject(discovery) ? { ...discovery, ...value } : value;
  }
  return config;
}

export type HostOptions = Partial<Omit<ProxyWasmHostOptions, "pluginConfig">>;

/** Loads the module with `config` (an object, or raw text) without configuring it. */
export function loadRouter(config: RouterConfig | string, options: HostOptions = {}): Promise<ProxyWasmHost> {
  return ProxyWasmHost.load(wasmPath, {
    rootId: "region_router",
    nowMs: START_MS,
    ...options,
    pluginConfig: typeof config === "string" ? config : JSON.stringify(config),
  });
}

/** A configured router; fails the test if the module refuses `config`. */
export async function startRouter(config: RouterConfig | string = routerConfig(), options: HostOptions = {}): Promise<ProxyWasmHost> {
  const host = await loadRouter(config, options);
  assert.equal(host.configure(), true, `configure() refused: ${host.logs.map((l) => l.message).join(" | ")}`);
  return host;
}

export interface Request {
  stream: HttpContextHandle;
  action: "continue" | "pause";
}

/** Sends request headers for `path` on `authority` (plus `extra`) through a new stream. */
export function request(host: ProxyWasmHost, path: string, extra: HeaderList = [], authority = TENANT): Request {
  const stream = host.newHttpContext();
  const action = stream.onRequestHeaders([[":method", "GET"], [":scheme", "http"], [":authority", authority], [":path", path], ...extra]);
  return { stream, action };
}

/** All values of `name` in `headers`. */
export function values(headers: HeaderList, name: string): string[] {
  return headers.filter(([key]) => key === name).map(([, value]) => value);
}

/** The pending discovery call, asserting there is exactly one. */
export function onlyPendingCall(host: ProxyWasmHost) {
  const pending = host.httpCalls.filter((call) => !call.done);
  assert.equal(pending.length, 1, `pending discovery calls: ${pending.length}`);
  return pending[0]!;
}

export function answerRegion(host: ProxyWasmHost, token: number, region: string, tenant = TENANT): void {
  host.respondHttpCall(token, {
    status: 200,
    headers: [["content-type", "application/json"]],
    body: JSON.stringify({ host: tenant, region }),
  });
}

export function answerUnknownTenant(host: ProxyWasmHost, token: number): void {
  host.respondHttpCall(token, { status: 404, body: '{"error":"unknown_tenant"}' });
}

/** A counter's total (0 if the module never defined it). */
export function counter(host: ProxyWasmHost, name: string): number {
  return host.metrics.get(`edge_router.${name}`)?.value ?? 0;
}

/** Every counter the router defines, by name without the `edge_router.` prefix. */
export function counters(host: ProxyWasmHost): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [name, metric] of host.metrics) {
    if (metric.type === "counter") result[name.replace(/^edge_router\./, "")] = metric.value;
  }
  return result;
}

/** The tenant cache entry for `host` as text, or undefined. */
export function cachedTenant(host: ProxyWasmHost, tenant = TENANT): string | undefined {
  const entry = host.sharedData.get(`edge-router/tenant/${tenant}`);
  return entry === undefined ? undefined : new TextDecoder().decode(entry.value);
}

/** The JSON body of the stream's local reply. */
export function replyBody(stream: HttpContextHandle): unknown {
  assert.ok(stream.localResponse, "expected a local reply");
  return JSON.parse(stream.localResponse.body);
}
