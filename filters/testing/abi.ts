// Constants of the proxy-wasm ABI 0.2.x as Envoy implements it.

export const WasmResult = {
  Ok: 0,
  NotFound: 1,
  BadArgument: 2,
  SerializationFailure: 3,
  ParseFailure: 4,
  BadExpression: 5,
  InvalidMemoryAccess: 6,
  Empty: 7,
  CasMismatch: 8,
  ResultMismatch: 9,
  InternalFailure: 10,
  BrokenConnection: 11,
  Unimplemented: 12,
} as const;
export type WasmResultCode = (typeof WasmResult)[keyof typeof WasmResult];

/** Index = the level number the module passes to `proxy_log`. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "critical"] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export const HeaderMapType = {
  RequestHeaders: 0,
  RequestTrailers: 1,
  ResponseHeaders: 2,
  ResponseTrailers: 3,
  GrpcReceiveInitialMetadata: 4,
  GrpcReceiveTrailingMetadata: 5,
  HttpCallResponseHeaders: 6,
  HttpCallResponseTrailers: 7,
} as const;
export const HEADER_MAP_TYPE_MAX = 7;

export const BufferType = {
  HttpRequestBody: 0,
  HttpResponseBody: 1,
  NetworkDownstreamData: 2,
  NetworkUpstreamData: 3,
  HttpCallResponseBody: 4,
  GrpcReceiveBuffer: 5,
  VmConfiguration: 6,
  PluginConfiguration: 7,
  CallData: 8,
} as const;
export const BUFFER_TYPE_MAX = 8;

export const StreamType = { Request: 0, Response: 1, Downstream: 2, Upstream: 3 } as const;
export const STREAM_TYPE_MAX = 3;

export const MetricType = { Counter: 0, Gauge: 1, Histogram: 2 } as const;
export const METRIC_TYPE_MAX = 2;
export type MetricTypeName = "counter" | "gauge" | "histogram";
export const METRIC_TYPE_NAMES: readonly MetricTypeName[] = ["counter", "gauge", "histogram"];

/** Envoy encodes a metric's type in the low two bits of its id and steps ids by 4. */
export const METRIC_TYPE_MASK = 0x3;
export const METRIC_ID_INCREMENT = 0x4;

export const FilterHeadersStatus = {
  Continue: 0,
  StopIteration: 1,
  ContinueAndEndStream: 2,
  StopAllIterationAndBuffer: 3,
  StopAllIterationAndWatermark: 4,
} as const;

export const FilterDataStatus = {
  Continue: 0,
  StopIterationAndBuffer: 1,
  StopIterationAndWatermark: 2,
  StopIterationNoBuffer: 3,
} as const;

export type AbiVersion = "0.2.0" | "0.2.1";

/** The export a module uses to declare its ABI version, newest first. */
export const ABI_VERSION_EXPORTS: readonly [string, AbiVersion][] = [
  ["proxy_abi_version_0_2_1", "0.2.1"],
  ["proxy_abi_version_0_2_0", "0.2.0"],
];
export const UNSUPPORTED_ABI_EXPORT = "proxy_abi_version_0_1_0";

/** `env` functions Envoy registers for every ABI version. */
export const COMMON_PROXY_IMPORTS = [
  "proxy_log",
  "proxy_get_status",
  "proxy_set_property",
  "proxy_get_property",
  "proxy_send_local_response",
  "proxy_get_shared_data",
  "proxy_set_shared_data",
  "proxy_register_shared_queue",
  "proxy_resolve_shared_queue",
  "proxy_dequeue_shared_queue",
  "proxy_enqueue_shared_queue",
  "proxy_get_header_map_value",
  "proxy_add_header_map_value",
  "proxy_replace_header_map_value",
  "proxy_remove_header_map_value",
  "proxy_get_header_map_pairs",
  "proxy_set_header_map_pairs",
  "proxy_get_header_map_size",
  "proxy_get_buffer_status",
  "proxy_get_buffer_bytes",
  "proxy_set_buffer_bytes",
  "proxy_http_call",
  "proxy_grpc_call",
  "proxy_grpc_stream",
  "proxy_grpc_close",
  "proxy_grpc_cancel",
  "proxy_grpc_send",
  "proxy_set_tick_period_milliseconds",
  "proxy_get_current_time_nanoseconds",
  "proxy_define_metric",
  "proxy_increment_metric",
  "proxy_record_metric",
  "proxy_get_metric",
  "proxy_set_effective_context",
  "proxy_done",
  "proxy_call_foreign_function",
] as const;

/**
 * Functions Envoy registers only for some ABI versions. `proxy_get_log_level` exists for 0.2.1
 * only, and `proxy_clear_route_cache` for 0.1.0 only: a 0.2.0 module importing either does not load.
 */
export const ABI_SPECIFIC_PROXY_IMPORTS: Record<AbiVersion, readonly string[]> = {
  "0.2.0": ["proxy_continue_stream", "proxy_close_stream"],
  "0.2.1": ["proxy_continue_stream", "proxy_close_stream", "proxy_get_log_level"],
};

/** Other `env` functions Envoy provides (Emscripten runtime support). */
export const EXTRA_ENV_IMPORTS = ["pthread_equal", "emscripten_notify_memory_growth"] as const;

export const WASI_MODULES = ["wasi_unstable", "wasi_snapshot_preview1"] as const;

export const WASI_IMPORTS = [
  "fd_write",
  "fd_read",
  "fd_seek",
  "fd_close",
  "fd_fdstat_get",
  "environ_get",
  "environ_sizes_get",
  "args_get",
  "args_sizes_get",
  "clock_time_get",
  "random_get",
  "proc_exit",
  "path_open",
  "fd_prestat_get",
  "fd_prestat_dir_name",
] as const;

/** While `_initialize`/`_start`/`main` run, Envoy lets the module call only these. */
export const START_PHASE_IMPORTS: ReadonlySet<string> = new Set([
  "env.proxy_log",
  ...WASI_MODULES.flatMap((module) =>
    [
      "fd_write",
      "args_sizes_get",
      "args_get",
      "environ_sizes_get",
      "environ_get",
      "fd_prestat_get",
      "fd_prestat_dir_name",
      "clock_time_get",
      "random_get",
    ].map((name) => `${module}.${name}`),
  ),
]);

export const WasiErrno = {
  Success: 0,
  BadFileDescriptor: 8,
  Fault: 21,
  NotImplemented: 52,
  NotSupported: 58,
  NotCapable: 76,
} as const;

/** Envoy's foreign functions that make sense without a real proxy behind the module. */
export const FOREIGN_FUNCTIONS = ["clear_route_cache"] as const;
