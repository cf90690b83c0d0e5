// Entry point of the region-router proxy-wasm module (root_id "region_router").
// The ABI exports must be exports of the entry file. Only the callbacks the router acts on are
// exported: Envoy skips a callback the module does not export, and each one it calls is a crossing
// into the VM on every request (docs/benchmarks.md). Not exported: proxy_on_done and proxy_on_log
// (onDelete does the stream's clean-up), the response body, trailers and metadata, ticks, queues,
// foreign functions and gRPC calls.
// @ts-ignore: resolved by asc, not by the TypeScript language service
export { malloc } from "@solo-io/proxy-runtime/malloc";
export {
  proxy_abi_version_0_2_0, proxy_on_vm_start, proxy_validate_configuration, proxy_on_configure,
  proxy_on_context_create, proxy_on_request_headers, proxy_on_request_body, proxy_on_request_trailers,
  proxy_on_response_headers, proxy_on_http_call_response, proxy_on_delete,
  // @ts-ignore: resolved by asc, not by the TypeScript language service
} from "@solo-io/proxy-runtime/exports";
import { RootContext, registerRootContext } from "@solo-io/proxy-runtime";
import { RegionRouterRoot } from "./router";

registerRootContext((contextId: u32): RootContext => new RegionRouterRoot(contextId), "region_router");

// Referencing the cycle collector from start-up code makes the compiler emit it; a first reference
// only from a virtual method (RegionRouterStream#onDelete) is too late and fails validation.
__collect();
