// Arms are the generated POP bootstrap with parts taken out or swapped: each edit works on a copy
// and throws when the part it removes is not there, so a renamed filter or listener in edge/
// fails the benchmark instead of silently measuring something else.
import type { Bootstrap, HttpConnectionManager, HttpFilter } from "../../edge/envoy-api.ts";
import type { RegionRouterConfig } from "../../edge/filter-config.ts";
import { CLAIM_HEADER, CLUSTER_HEADER, HOP_HEADER, OWNER_HEADER, POP_HEADER, ROUTE_HEADER, SOURCE_HEADER } from "../../edge/headers.ts";
import type { Endpoint } from "../../edge/placement.ts";
import { PUBLIC_LISTENER, WASM_FILTER } from "../../edge/pop.ts";
import { hostClusters } from "../../edge/clusters.ts";

export const LUA_FILTER = "envoy.filters.http.lua";

export interface LuaFilter {
  name: typeof LUA_FILTER;
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua";
    default_source_code: { inline_string: string };
  };
}

/** The internal headers edge/headers.ts defines; the public listener strips them all (by prefix). */
export const INTERNAL_HEADERS = [CLUSTER_HEADER, HOP_HEADER, OWNER_HEADER, SOURCE_HEADER, CLAIM_HEADER, POP_HEADER, ROUTE_HEADER] as const;

function connectionManagers(bootstrap: Bootstrap, listener?: string): HttpConnectionManager[] {
  const managers = bootstrap.static_resources.listeners
    .filter((candidate) => listener === undefined || candidate.name === listener)
    .flatMap((candidate) => candidate.filter_chains.flatMap((chain) => chain.filters))
    .flatMap((filter) => (filter.name === "envoy.filters.network.http_connection_manager" ? [filter.typed_config] : []));
  if (managers.length === 0) throw new Error(`the generated POP bootstrap has no HTTP listener${listener ? ` named ${listener}` : ""}`);
  return managers;
}

/** `bootstrap` without HTTP filter `name` on every listener. */
export function withoutHttpFilter(bootstrap: Bootstrap, name: string): Bootstrap {
  const copy = structuredClone(bootstrap);
  let removed = 0;
  for (const manager of connectionManagers(copy)) {
    const kept = manager.http_filters.filter((filter) => filter.name !== name);
    removed += manager.http_filters.length - kept.length;
    manager.http_filters = kept;
  }
  if (removed === 0) throw new Error(`the generated POP bootstrap has no HTTP filter ${name} to remove`);
  return copy;
}

/** `bootstrap` with no access log on any listener. */
export function withoutAccessLog(bootstrap: Bootstrap): Bootstrap {
  const copy = structuredClone(bootstrap);
  const managers = connectionManagers(copy);
  if (managers.every((manager) => manager.access_log.length === 0)) throw new Error("the generated POP bootstrap has no access log to remove");
  for (const manager of managers) manager.access_log = [];
  return copy;
}

/** The public listener lets every internal header through (the client sets x-edge-* itself). */
export function withoutInternalHeaderStrip(bootstrap: Bootstrap): Bootstrap {
  const copy = structuredClone(bootstrap);
  const [manager] = connectionManagers(copy, PUBLIC_LISTENER);
  if (!manager!.early_header_mutation_extensions) throw new Error(`the ${PUBLIC_LISTENER} listener strips no internal header`);
  delete manager!.early_header_mutation_extensions;
  return copy;
}

/**
 * The public listener strips every internal header but `kept`, which the client then sends in
 * place of the component that would have written it; the strip itself still runs.
 */
export function withInternalHeaderStripExcept(bootstrap: Bootstrap, kept: string): Bootstrap {
  const copy = structuredClone(bootstrap);
  const [manager] = connectionManagers(copy, PUBLIC_LISTENER);
  const [mutation] = manager!.early_header_mutation_extensions ?? [];
  if (!mutation) throw new Error(`the ${PUBLIC_LISTENER} listener strips no internal header`);
  mutation.typed_config.mutations = INTERNAL_HEADERS.filter((header) => header !== kept).map((header) => ({ remove: header }));
  return copy;
}

/** Every region-router filter of `bootstrap` configured with `config`. */
export function withRouterConfig(bootstrap: Bootstrap, config: RegionRouterConfig): Bootstrap {
  const copy = structuredClone(bootstrap);
  let replaced = 0;
  for (const manager of connectionManagers(copy)) {
    for (const filter of manager.http_filters) {
      if (filter.name !== WASM_FILTER) continue;
      filter.typed_config.config.configuration.value = JSON.stringify(config);
      replaced += 1;
    }
  }
  if (replaced === 0) throw new Error(`the generated POP bootstrap has no ${WASM_FILTER} to configure`);
  return copy;
}

/** A Lua filter running `source` just before the router on the public listener. */
export function withLuaFilter(bootstrap: Bootstrap, source: string): Bootstrap {
  const copy = structuredClone(bootstrap);
  const [manager] = connectionManagers(copy, PUBLIC_LISTENER);
  const lua: LuaFilter = {
    name: LUA_FILTER,
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua", default_source_code: { inline_string: source } },
  };
  // edge/envoy-api.ts types only the filters edge/ renders; this list is only ever serialised.
  const filters = manager!.http_filters as (HttpFilter | LuaFilter)[];
  filters.splice(filters.length - 1, 0, lua);
  return copy;
}

/** Each cluster `endpointOf` names goes to that one endpoint only (every priority replaced). */
export function withClusterEndpoints(bootstrap: Bootstrap, endpointOf: (cluster: string) => Endpoint | undefined): Bootstrap {
  const copy = structuredClone(bootstrap);
  for (const cluster of hostClusters(copy.static_resources.clusters)) {
    const endpoint = endpointOf(cluster.name);
    if (endpoint === undefined) continue;
    cluster.load_assignment = { cluster_name: cluster.name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: endpoint.address, port_value: endpoint.port } } } }] }] };
  }
  return copy;
}

/** Names of the HTTP filters on the public listener, in order (for the report). */
export function publicFilterNames(bootstrap: Bootstrap): string[] {
  return connectionManagers(bootstrap, PUBLIC_LISTENER)[0]!.http_filters.map((filter) => filter.name);
}
