// Root context (configuration, metrics, tenant lookups of one worker) and the per-request stream
// context. Decisions come from routing.ts; this file reads facts from the host and applies them.

import { Context, FilterDataStatusValues, FilterHeadersStatusValues, FilterTrailersStatusValues, RootContext } from "@solo-io/proxy-runtime";
import { getContext } from "@solo-io/proxy-runtime/runtime";
import { FallbackPolicy, RouterConfig, fill, parseRouterConfig } from "./config";
import {
  CAS_MISMATCH, HeaderMap, HostBuffer, LogLevel, MetricKind, continueRequest, defineMetric, getHeader, getSharedData,
  httpCall, incrementMetric, log, nowMs, readBuffer, recordMetric, replaceHeader, sendLocalReply,
  setEffectiveContext, setSharedData, sharedDataCas,
} from "./proxy_host";
import {
  LOOP_MESSAGE, NO_APP_MESSAGE, NO_OWNER_MESSAGES, NoOwnerReason, OwnerSource, REJECTION_CODES, REJECTION_STATUS,
  Rejection, UNKNOWN_ANSWER_MESSAGE, UNKNOWN_CLAIM_MESSAGE, Verdict, answeredRegion, matchApp, parseHops,
  recordExpiry, recordRegion, rejectionBody, routeHeaderValue, routeVerdict, tenantHost, tenantKey, tenantRecord,
} from "./routing";
import { UnknownTenants } from "./unknown_tenants";

const POP_HEADER = "x-edge-pop";
const ROUTE_HEADER = "x-edge-route";
const METRIC_PREFIX = "edge_router.";
const INVALID_CONFIGURATION = "invalid configuration: ";
const SHARED_DATA_ATTEMPTS = 3;
// The SDK's contexts form reference cycles, which this runtime frees only in __collect():
// without it every finished stream context would stay allocated.
const STREAMS_PER_COLLECTION = 32;
// A multiple of STREAMS_PER_COLLECTION, so the gauge is sampled right after a collection.
const STREAMS_PER_MEMORY_SAMPLE = 1024;

/** Positions in `metricIds`: these, then rejected.<code> per Rejection (4), then forwarded.<region> per region. */
enum Metric {
  RoutedLocal, Fallback, LookupErrors, CacheHits, Lookups, LookupMs, WasmMemoryBytes, Rejected, Forwarded = Rejected + 4,
}
const METRIC_NAMES: Array<string> = [
  "routed_local", "fallback", "lookup_errors", "cache_hits", "lookups", "lookup_ms", "wasm_memory_bytes",
];

/** One discovery call in flight and the streams waiting for its answer. */
class TenantLookup {
  host: string;
  token: u32;
  startedMs: i64;
  /**
   * Context ids of the streams waiting for the answer. A stream that ends early (onDone or
   * onDelete) sets its slot to 0, so every other id still names a live RegionRouterStream.
   */
  waiters: Array<u32> = [];

  constructor(host: string, token: u32, startedMs: i64) {
    this.host = host;
    this.token = token;
    this.startedMs = startedMs;
  }
}

export class RegionRouterRoot extends RootContext {
  config: RouterConfig = new RouterConfig();
  metricIds: Array<u32> = [];
  /** Discovery calls in flight in this worker: at most one per host. */
  lookups: Array<TenantLookup> = [];
  /** Unknown-tenant answers of this worker (replaced by one of the configured capacity). */
  unknownTenants: UnknownTenants = new UnknownTenants(1);
  /** Streams deleted so far (wraps; both periods divide 2^32). */
  finishedStreams: u32 = 0;

  createContext(contextId: u32): Context {
    return new RegionRouterStream(contextId, this);
  }

  onConfigure(configurationSize: u32): bool {
    let problems: Array<string> = [];
    let config = parseRouterConfig(readBuffer(HostBuffer.PluginConfiguration, configurationSize), problems);
    for (let i = 0; i < problems.length; i++) log(LogLevel.Error, INVALID_CONFIGURATION + problems[i]);
    if (config == null) {
      log(LogLevel.Critical, INVALID_CONFIGURATION + problems.length.toString() + " problem(s), not starting");
      return false;
    }
    this.config = config;
    this.unknownTenants = new UnknownTenants(config.negativeCacheMaxEntries);
    for (let i = 0; i < METRIC_NAMES.length; i++) {
      let kind = i == Metric.LookupMs ? MetricKind.Histogram : i == Metric.WasmMemoryBytes ? MetricKind.Gauge : MetricKind.Counter;
      this.metricIds.push(defineMetric(kind, METRIC_PREFIX + METRIC_NAMES[i]));
    }
    for (let i = 0; i < REJECTION_CODES.length; i++) this.defineCounter("rejected." + REJECTION_CODES[i]);
    for (let i = 0; i < config.regions.length; i++) this.defineCounter("forwarded." + config.regions[i]);
    this.recordMemory();
    return true;
  }

  defineCounter(name: string): void {
    this.metricIds.push(defineMetric(MetricKind.Counter, METRIC_PREFIX + name));
  }

  count(metric: i32): void {
    incrementMetric(this.metricIds[metric]);
  }

  /**
   * The fresh cached owner of `host` ("" for a known-unknown tenant); null on a miss or an expired
   * record. An owner in shared data (learnt by any worker) wins over this worker's unknown answer.
   */
  cachedRegion(host: string): string | null {
    let now = nowMs();
    let record = getSharedData(tenantKey(host));
    if (record != null && recordExpiry(record!) > now) return recordRegion(record!);
    return this.unknownTenants.has(host, now) ? "" : null;
  }

  /** Caches an owner in shared data unless an equal, longer-lived record is there. */
  storeTenant(host: string, region: string, ttlMs: i64): void {
    let key = tenantKey(host);
    let expiresAtMs = nowMs() + ttlMs;
    let record = tenantRecord(region, expiresAtMs);
    for (let attempt = 0; attempt < SHARED_DATA_ATTEMPTS; attempt++) {
      let current = getSharedData(key);
      if (current != null && recordRegion(current!) == region && recordExpiry(current!) >= expiresAtMs) return;
      // A mismatch means another worker wrote after our read: read again and decide again.
      if (setSharedData(key, record, current != null ? sharedDataCas : 0) != CAS_MISMATCH) return;
    }
  }

  /** Parks `stream` until its host's tenant is known, joining a lookup in flight; false if none could start. */
  awaitTenant(stream: RegionRouterStream): bool {
    let host = stream.host;
    let lookup: TenantLookup | null = null;
    for (let i = 0; i < this.lookups.length; i++) {
      if (this.lookups[i].host == host) lookup = this.lookups[i];
    }
    if (lookup == null) {
      let config = this.config;
      this.count(Metric.Lookups);
      let token = httpCall(config.discoveryCluster, [
        ":method", "GET",
        ":path", fill(config.discoveryPathTemplate, "{host}", host),
        ":authority", config.discoveryAuthority,
      ], config.discoveryTimeoutMs);
      if (token < 0) {
        this.count(Metric.LookupErrors);
        return false;
      }
      lookup = new TenantLookup(host, <u32>token, nowMs());
      this.lookups.push(lookup);
    }
    stream.waitSlot = lookup.waiters.length;
    lookup.waiters.push(stream.context_id);
    stream.waitingFor = lookup;
    return true;
  }

  onHttpCallResponse(token: u32, headerCount: u32, bodySize: u32, trailerCount: u32): void {
    let lookups = this.lookups;
    let index = -1;
    for (let i = 0; i < lookups.length; i++) {
      if (lookups[i].token == token) index = i;
    }
    if (index < 0) return;
    let lookup = lookups[index];
    // Order does not matter: move the last lookup into the freed slot.
    unchecked(lookups[index] = lookups[lookups.length - 1]);
    lookups.length = lookups.length - 1;
    // The host clock is the wall clock, which may step back.
    recordMetric(this.metricIds[Metric.LookupMs], max<i64>(nowMs() - lookup.startedMs, 0));

    // No headers: the call was reset (Envoy answers a timeout with a 504, an unreachable cluster with a 503).
    let status = headerCount > 0 ? getHeader(HeaderMap.HttpCallResponse, ":status") : null;
    let region = status == "200" ? answeredRegion(readBuffer(HostBuffer.HttpCallResponseBody, bodySize)) : "";
    let reason = NoOwnerReason.LookupFailed;
    if (status == "404") {
      reason = NoOwnerReason.UnknownTenant;
      this.unknownTenants.add(lookup.host, nowMs() + this.config.negativeCacheTtlMs);
    } else if (region.length == 0) {
      this.count(Metric.LookupErrors);
    } else if (this.config.regionIndex(region) >= 0) {
      // An answer naming an unknown region is rejected per request and never cached.
      this.storeTenant(lookup.host, region, this.config.cacheTtlMs);
    }

    let waiters = lookup.waiters;
    lookup.waiters = [];
    for (let i = 0; i < waiters.length; i++) {
      let id = waiters[i];
      if (id == 0) continue;
      let stream = changetype<RegionRouterStream>(getContext(id));
      stream.waitingFor = null;
      setEffectiveContext(id);
      if (stream.settle(region, OwnerSource.Lookup, reason) == FilterHeadersStatusValues.Continue) continueRequest();
    }
  }

  streamDeleted(): void {
    let finished = ++this.finishedStreams;
    if (finished % STREAMS_PER_COLLECTION == 0) {
      __collect();
      if (finished % STREAMS_PER_MEMORY_SAMPLE == 0) this.recordMemory();
    }
  }

  /** Sets the memory gauge to the size of this VM's linear memory (it only ever grows). */
  recordMemory(): void {
    recordMetric(this.metricIds[Metric.WasmMemoryBytes], <i64>memory.size() << 16);
  }
}

export class RegionRouterStream extends Context {
  router: RegionRouterRoot;
  appIndex: i32 = -1;
  hops: i32 = 0;
  host: string = "";
  /** The x-edge-route value once an owner is decided (routed or loop-rejected); "" until then. */
  route: string = "";
  waitingFor: TenantLookup | null = null;
  /** Index of this stream's id in `waitingFor.waiters`. */
  waitSlot: i32 = 0;

  constructor(contextId: u32, router: RegionRouterRoot) {
    super(contextId, router);
    this.router = router;
  }

  onRequestHeaders(headerCount: u32, endOfStream: bool): FilterHeadersStatusValues {
    let config = this.router.config;
    let path = getHeader(HeaderMap.Request, ":path");
    this.appIndex = path != null ? matchApp(path!, config.apps) : -1;
    if (this.appIndex < 0) return this.reject(Rejection.NoApp, NO_APP_MESSAGE);
    this.hops = parseHops(getHeader(HeaderMap.Request, config.hopHeader), config.maxHops);
    let claim = getHeader(HeaderMap.Request, config.claimHeader);
    if (claim != null) return this.settle(claim!, OwnerSource.Jwt, NoOwnerReason.NoHost);

    let host = tenantHost(getHeader(HeaderMap.Request, ":authority"));
    this.host = host;
    if (host.length == 0) return this.settle("", OwnerSource.Lookup, NoOwnerReason.NoHost);
    let cached = this.router.cachedRegion(host);
    if (cached != null) {
      this.router.count(Metric.CacheHits);
      return this.settle(cached!, OwnerSource.Cache, NoOwnerReason.UnknownTenant);
    }
    if (this.router.awaitTenant(this)) return FilterHeadersStatusValues.StopIteration;
    return this.settle("", OwnerSource.Lookup, NoOwnerReason.LookupFailed);
  }

  // While the owner is unknown no body or trailers may pass: a Continue here would release the
  // headers before the cluster header is set.
  onRequestBody(bodyBufferLength: usize, endOfStream: bool): FilterDataStatusValues {
    return this.waitingFor != null ? FilterDataStatusValues.StopIterationAndBuffer : FilterDataStatusValues.Continue;
  }

  onRequestTrailers(trailerCount: u32): FilterTrailersStatusValues {
    return this.waitingFor != null ? FilterTrailersStatusValues.StopIteration : FilterTrailersStatusValues.Continue;
  }

  /**
   * Routes the request to `owner` found from `source`, or, when `owner` is "", applies the
   * fallback policy (`reason` says why there is no owner). Continue, or StopIteration after a reply.
   */
  settle(owner: string, source: OwnerSource, reason: NoOwnerReason): FilterHeadersStatusValues {
    let router = this.router;
    let config = router.config;
    // An empty claim is a claim naming no known region, not a missing owner.
    if (owner.length == 0 && source != OwnerSource.Jwt) {
      if (config.fallbackPolicy == FallbackPolicy.Reject) return this.reject(Rejection.NoOwner, NO_OWNER_MESSAGES[reason]);
      router.count(Metric.Fallback);
      owner = config.fallbackRegion;
      source = OwnerSource.Fallback;
    }
    let verdict = routeVerdict(config, owner, this.hops);
    if (verdict == Verdict.UnknownRegion) {
      return this.reject(Rejection.UnknownRegion, source == OwnerSource.Jwt ? UNKNOWN_CLAIM_MESSAGE : UNKNOWN_ANSWER_MESSAGE);
    }
    let hopsAfter = verdict == Verdict.Forward ? this.hops + 1 : this.hops;
    this.route = routeHeaderValue(owner, source, config.pop, hopsAfter);
    if (verdict == Verdict.Loop) return this.reject(Rejection.LoopDetected, LOOP_MESSAGE);
    // Replace, never add: a client-sent value must not survive (cluster_header reads the first value).
    if (verdict == Verdict.Local) {
      replaceHeader(HeaderMap.Request, config.clusterHeader, config.apps[this.appIndex].localCluster);
      router.count(Metric.RoutedLocal);
    } else {
      let region = config.regionIndex(owner);
      replaceHeader(HeaderMap.Request, config.clusterHeader, config.peerClusters[region]);
      replaceHeader(HeaderMap.Request, config.hopHeader, hopsAfter.toString());
      router.count(Metric.Forwarded + region);
    }
    return FilterHeadersStatusValues.Continue;
  }

  reject(rejection: Rejection, message: string): FilterHeadersStatusValues {
    let pop = this.router.config.pop;
    this.router.count(Metric.Rejected + rejection);
    let headers = ["content-type", "application/json", POP_HEADER, pop];
    if (this.route.length > 0) {
      headers.push(ROUTE_HEADER);
      headers.push(this.route);
    }
    sendLocalReply(REJECTION_STATUS[rejection], METRIC_PREFIX + REJECTION_CODES[rejection],
      rejectionBody(rejection, message, pop), headers);
    return FilterHeadersStatusValues.StopIteration;
  }

  onResponseHeaders(headerCount: u32, endOfStream: bool): FilterHeadersStatusValues {
    replaceHeader(HeaderMap.Response, POP_HEADER, this.router.config.pop);
    // The client sees this POP's decision, never one made further along. Without a decision the
    // response is this filter's own local reply, which carries no route.
    if (this.route.length > 0) replaceHeader(HeaderMap.Response, ROUTE_HEADER, this.route);
    return FilterHeadersStatusValues.Continue;
  }

  /** Leaves the lookup this stream waits for, if any (the stream ended before the answer). */
  detach(): void {
    let lookup = this.waitingFor;
    if (lookup != null) {
      lookup.waiters[this.waitSlot] = 0;
      this.waitingFor = null;
    }
  }

  onDone(): bool {
    this.detach();
    return true;
  }

  onDelete(): void {
    this.detach();
    this.router.streamDeleted();
  }
}
