/**
 * The subset of Envoy's v3 bootstrap API that edge/ renders, typed so a misspelt field fails to
 * compile. Field names are Envoy's (snake_case); `@type` values pin each extension's proto.
 */

export type Duration = `${number}s`;

export interface SocketAddress {
  address: string;
  port_value: number;
}

export interface Address {
  socket_address: SocketAddress;
}

export interface Bootstrap {
  node: { id: string; cluster: string };
  admin: { address: Address };
  static_resources: { listeners: Listener[]; clusters: (Cluster | AggregateCluster)[] };
  overload_manager: OverloadManager;
}

// --- overload manager -------------------------------------------------------------------------

export interface FixedHeapMonitor {
  name: "envoy.resource_monitors.fixed_heap";
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig";
    max_heap_size_bytes: number;
  };
}

export interface DownstreamConnectionsMonitor {
  name: "envoy.resource_monitors.global_downstream_max_connections";
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig";
    max_active_downstream_connections: number;
  };
}

export interface OverloadAction {
  name: "envoy.overload_actions.shrink_heap" | "envoy.overload_actions.stop_accepting_requests";
  triggers: { name: FixedHeapMonitor["name"]; threshold: { value: number } }[];
}

export interface OverloadManager {
  refresh_interval: Duration;
  resource_monitors: (FixedHeapMonitor | DownstreamConnectionsMonitor)[];
  actions: OverloadAction[];
}

// --- listeners --------------------------------------------------------------------------------

export interface Listener {
  name: string;
  address: Address;
  per_connection_buffer_limit_bytes: number;
  filter_chains: FilterChain[];
  /** MODIFY_ONLY: a failed health check (/healthcheck/fail) does not close this listener's connections. */
  drain_type?: "DEFAULT" | "MODIFY_ONLY";
}

export interface FilterChain {
  transport_socket?: DownstreamTlsTransportSocket;
  filters: NetworkFilter[];
}

export type NetworkFilter = ConnectionLimitFilter | HttpConnectionManagerFilter;

export interface ConnectionLimitFilter {
  name: "envoy.filters.network.connection_limit";
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit";
    stat_prefix: string;
    max_connections: number;
  };
}

export interface HttpConnectionManagerFilter {
  name: "envoy.filters.network.http_connection_manager";
  typed_config: HttpConnectionManager;
}

export interface Http2ProtocolOptions {
  max_concurrent_streams: number;
  initial_stream_window_size: number;
  initial_connection_window_size: number;
  /** PING-based liveness of an idle or busy connection. */
  connection_keepalive?: { interval: Duration; timeout: Duration };
}

export interface CommonHttpProtocolOptions {
  idle_timeout?: Duration;
  headers_with_underscores_action?: "ALLOW" | "REJECT_REQUEST" | "DROP_HEADER";
}

export interface HttpConnectionManager {
  "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
  stat_prefix: string;
  codec_type: "AUTO" | "HTTP1" | "HTTP2";
  use_remote_address: boolean;
  normalize_path: boolean;
  merge_slashes: boolean;
  max_request_headers_kb: number;
  request_timeout: Duration;
  request_headers_timeout: Duration;
  stream_idle_timeout: Duration;
  common_http_protocol_options: CommonHttpProtocolOptions;
  http2_protocol_options: Http2ProtocolOptions;
  early_header_mutation_extensions?: EarlyHeaderMutationExtension[];
  route_config: RouteConfiguration;
  http_filters: HttpFilter[];
  access_log: AccessLog[];
  local_reply_config?: LocalReplyConfig;
}

/** Rewrites Envoy's own replies that match a mapper's filter; the first mapper that matches applies. */
export interface LocalReplyConfig {
  mappers: {
    filter: LocalReplyFilter;
    status_code: number;
    headers_to_add?: HeaderValueOption[];
    body_format_override:
      | { json_format: Record<string, string>; content_type: string }
      | { text_format_source: { inline_string: string } };
  }[];
}

/** The access-log filters the mappers use; a header filter matches the request's headers. */
export type LocalReplyFilter =
  | { response_flag_filter: { flags: string[] } }
  | { header_filter: { header: HeaderMatcher } }
  | { and_filter: { filters: LocalReplyFilter[] } };

export interface HeaderValueOption {
  header: { key: string; value: string };
  append_action: "OVERWRITE_IF_EXISTS_OR_ADD";
}

/** A header mutation rule (envoy.config.common.mutation_rules.v3.HeaderMutation). */
export type HeaderMutationRule = { remove: string } | { remove_on_match: { key_matcher: StringMatcher } };

export type StringMatcher = { exact: string } | { prefix: string } | { safe_regex: { regex: string } };

export type HeaderMatcher = { name: string; string_match: StringMatcher } | { name: string; present_match: true };

export interface EarlyHeaderMutationExtension {
  name: "envoy.http.early_header_mutation.header_mutation";
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation";
    mutations: HeaderMutationRule[];
  };
}

export interface AccessLog {
  name: "envoy.access_loggers.stdout";
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";
    log_format: { json_format: Record<string, string> };
  };
}

// --- HTTP filters -----------------------------------------------------------------------------

export type HttpFilter = DiscoveredFilter | HealthCheckFilter | FaultFilter | WasmFilter | RouterFilter;

/** A fixed delay for requests whose headers match: the emulated WAN (wan.ts). */
export interface FaultFilter {
  name: "envoy.filters.http.fault";
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";
    delay: { fixed_delay: string; percentage: { numerator: number; denominator: "HUNDRED" } };
    headers: HeaderMatcher[];
    max_active_faults: number;
  };
}

/** Passes matching health checks on; after the admin's /healthcheck/fail it fails them, and marks every response. */
export interface HealthCheckFilter {
  name: "envoy.filters.http.health_check";
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck";
    pass_through_mode: boolean;
    headers: HeaderMatcher[];
  };
}

/** jwt_authn, its config (a JwtAuthentication) coming through ECDS from a file Envoy watches. */
export interface DiscoveredFilter {
  name: "envoy.filters.http.jwt_authn";
  config_discovery: {
    config_source: { path_config_source: PathConfigSource; resource_api_version: "V3" };
    type_urls: string[];
  };
}

export interface PathConfigSource {
  path: string;
  watched_directory: { path: string };
}

export interface JwtProvider {
  issuer: string;
  audiences: string[];
  local_jwks: { inline_string: string };
  forward: boolean;
  /** Slack allowed on exp and nbf. */
  clock_skew_seconds: number;
  claim_to_headers: { header_name: string; claim_name: string }[];
  /** Verified tokens kept per worker: a token seen before is not verified again while it is valid. */
  jwt_cache_config: { jwt_cache_size: number };
}

export type JwtRequirement = { provider_name: string } | { allow_missing: Record<string, never> };

export interface JwtAuthentication {
  "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";
  providers: Record<string, JwtProvider>;
  rules: { match: { prefix: string }; requires: { requires_any: { requirements: JwtRequirement[] } } }[];
}


export interface WasmFilter {
  name: "envoy.filters.http.wasm";
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
    config: {
      name: string;
      root_id: string;
      configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue"; value: string };
      vm_config: {
        vm_id: string;
        runtime: "envoy.wasm.runtime.v8";
        code: { local: { filename: string } };
      };
      failure_policy: "FAIL_CLOSED" | "FAIL_RELOAD" | "FAIL_OPEN";
    };
  };
}

export interface RouterFilter {
  name: "envoy.filters.http.router";
  typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" };
}

// --- routes -----------------------------------------------------------------------------------

export interface RouteConfiguration {
  name: string;
  virtual_hosts: VirtualHost[];
  response_headers_to_remove?: string[];
  request_headers_to_add?: HeaderValueOption[];
}

export interface VirtualHost {
  name: string;
  domains: string[];
  routes: Route[];
}

/** Wraps a per-route filter override; `disabled` skips the filter on that route. */
export interface FilterConfigOverride {
  "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig";
  disabled: boolean;
}

export interface Route {
  name: string;
  match: ({ prefix: string } | { path: string }) & { headers?: HeaderMatcher[] };
  route?: RouteAction;
  response_headers_to_add?: HeaderValueOption[];
  direct_response?: { status: number; body?: { inline_string: string } };
  redirect?: { https_redirect: true; port_redirect: number; response_code: "MOVED_PERMANENTLY" };
  typed_per_filter_config?: Record<string, FilterConfigOverride>;
}

export interface RetryPolicy {
  retry_on: string;
  num_retries: number;
  per_try_timeout: Duration;
  retry_host_predicate: {
    name: "envoy.retry_host_predicates.previous_hosts";
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate" };
  }[];
  host_selection_retry_max_attempts: number;
  retriable_headers?: HeaderMatcher[];
  retry_priority?: {
    name: "envoy.retry_priorities.previous_priorities";
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig";
      update_frequency: number;
    };
  };
}

export type RouteAction = (
  | { cluster_header: string; cluster_not_found_response_code: "SERVICE_UNAVAILABLE" | "NOT_FOUND" | "INTERNAL_SERVER_ERROR" }
  | { cluster: string }
) & { timeout: Duration; retry_policy?: RetryPolicy; prefix_rewrite?: string };

// --- clusters ---------------------------------------------------------------------------------

export interface HttpProtocolOptions {
  "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
  common_http_protocol_options: CommonHttpProtocolOptions;
  explicit_http_config:
    | { http2_protocol_options: Http2ProtocolOptions }
    | { http_protocol_options: Record<string, never> };
}

export interface HealthCheck {
  timeout: Duration;
  interval: Duration;
  no_traffic_interval: Duration;
  unhealthy_interval: Duration;
  unhealthy_threshold: number;
  healthy_threshold: number;
  http_health_check: { path: string; codec_client_type: "HTTP1" | "HTTP2" };
}

export interface OutlierDetection {
  split_external_local_origin_errors: boolean;
  consecutive_local_origin_failure: number;
  enforcing_consecutive_local_origin_failure: number;
  enforcing_consecutive_5xx: number;
  enforcing_consecutive_gateway_failure: number;
  enforcing_success_rate: number;
  enforcing_local_origin_success_rate: number;
  interval: Duration;
  base_ejection_time: Duration;
  max_ejection_time: Duration;
  max_ejection_percent: number;
  successful_active_health_check_uneject_host: boolean;
}

export interface Cluster {
  name: string;
  type: "STATIC" | "STRICT_DNS";
  dns_lookup_family?: "V4_ONLY";
  /** How often a STRICT_DNS cluster resolves its names again. */
  dns_refresh_rate?: Duration;
  connect_timeout: Duration;
  lb_policy: "ROUND_ROBIN" | "LEAST_REQUEST";
  per_connection_buffer_limit_bytes: number;
  load_assignment: {
    cluster_name: string;
    /** Priority 0 first; a lower priority takes traffic only when the ones above are unhealthy. */
    endpoints: { priority?: number; lb_endpoints: { endpoint: { address: Address } }[] }[];
    /** Percent by which a priority's healthy share is multiplied before it sheds load to the next. */
    policy?: { overprovisioning_factor: number };
  };
  typed_extension_protocol_options?: { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": HttpProtocolOptions };
  health_checks?: HealthCheck[];
  outlier_detection?: OutlierDetection;
  circuit_breakers?: CircuitBreakers;
  common_lb_config?: { healthy_panic_threshold: { value: number } };
  close_connections_on_host_health_failure?: boolean;
  transport_socket?: UpstreamTlsTransportSocket;
}

/** A cluster that tries the clusters it names in order, each while the ones before it have no healthy host. */
export interface AggregateCluster {
  name: string;
  connect_timeout: Duration;
  lb_policy: "CLUSTER_PROVIDED";
  cluster_type: {
    name: "envoy.clusters.aggregate";
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig"; clusters: string[] };
  };
}

export interface CircuitBreakers {
  thresholds: {
    priority: "DEFAULT";
    max_connections: number;
    max_pending_requests: number;
    max_requests: number;
    retry_budget: { budget_percent: { value: number }; min_retry_concurrency: number };
  }[];
}

// --- TLS --------------------------------------------------------------------------------------

export interface FileDataSource {
  filename: string;
}

export interface TlsCertificate {
  certificate_chain: FileDataSource;
  private_key: FileDataSource;
}

export type TlsProtocolVersion = "TLSv1_2" | "TLSv1_3";

export interface SubjectAltNameMatcher {
  san_type: "URI" | "DNS";
  matcher: StringMatcher;
}

export interface CertificateValidationContext {
  trusted_ca: FileDataSource;
  /** The peer certificate must carry at least one SAN matching one of these. */
  match_typed_subject_alt_names: SubjectAltNameMatcher[];
}

export interface CommonTlsContext {
  tls_params: { tls_minimum_protocol_version: TlsProtocolVersion; tls_maximum_protocol_version: TlsProtocolVersion };
  tls_certificates?: TlsCertificate[];
  /** Certificates from SDS; here always a file Envoy re-reads when its directory changes. */
  tls_certificate_sds_secret_configs?: SdsSecretConfig[];
  validation_context?: CertificateValidationContext;
  alpn_protocols: string[];
}

export interface SdsSecretConfig {
  name: string;
  sds_config: {
    path_config_source: { path: string; watched_directory: { path: string } };
    resource_api_version: "V3";
  };
}

/** The file an SdsSecretConfig names: a DiscoveryResponse with one TLS certificate secret. */
export interface SdsSecretFile {
  resources: {
    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";
    name: string;
    tls_certificate: { certificate_chain: { inline_string: string }; private_key: { inline_string: string } };
  }[];
}

export interface DownstreamTlsTransportSocket {
  name: "envoy.transport_sockets.tls";
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
    common_tls_context: CommonTlsContext;
    require_client_certificate: boolean;
  };
}

export interface UpstreamTlsTransportSocket {
  name: "envoy.transport_sockets.tls";
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
    common_tls_context: CommonTlsContext;
    sni: string;
  };
}
