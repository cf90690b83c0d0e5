import type { ConnectionLimits } from "../infra/topology/model.ts";
import type { OverloadManager } from "./envoy-api.ts";

/** Share of the container memory limit the Envoy heap may use, leaving room for V8 and stacks, so overload actions fire before the OOM killer. */
export const HEAP_SHARE_OF_MEMORY = 0.75;

/** Heap and global downstream connection limits of one Envoy, and what it does near the heap limit. */
export function overloadManager(memoryMb: number, connections: ConnectionLimits): OverloadManager {
  const heapTrigger = (value: number) => [{ name: "envoy.resource_monitors.fixed_heap" as const, threshold: { value } }];
  return {
    refresh_interval: "0.25s",
    resource_monitors: [
      {
        name: "envoy.resource_monitors.fixed_heap",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig",
          max_heap_size_bytes: Math.floor(memoryMb * HEAP_SHARE_OF_MEMORY) * 1024 * 1024,
        },
      },
      {
        name: "envoy.resource_monitors.global_downstream_max_connections",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
          max_active_downstream_connections: connections.global,
        },
      },
    ],
    actions: [
      { name: "envoy.overload_actions.shrink_heap", triggers: heapTrigger(0.95) },
      { name: "envoy.overload_actions.stop_accepting_requests", triggers: heapTrigger(0.98) },
    ],
  };
}
