// Entry point of the region-router proxy-wasm module (root_id "region_router").
// The SDK's ABI exports (proxy_on_*, malloc) must be exports of the entry file.
// @ts-ignore: resolved by asc, not by the TypeScript language service
export * from "@solo-io/proxy-runtime/proxy";
import { RootContext, registerRootContext } from "@solo-io/proxy-runtime";
import { RegionRouterRoot } from "./router";

registerRootContext((contextId: u32): RootContext => new RegionRouterRoot(contextId), "region_router");

// Referencing the cycle collector from start-up code makes the compiler emit it; a first reference
// only from a virtual method (RegionRouterStream#onDelete) is too late and fails validation.
__collect();
