// Root context (configuration, metrics, tenant lookups of one worker) and the per-request stream
// context. Decisions come from routing.ts; this file reads facts from the host and applies them.

import { Context, FilterDataStatusValues, FilterHeadersStatusValues, FilterTrailersStatusValues, RootContext } from "@solo-io/proxy-runtime";
import { getContext } from "@solo-io/proxy-runtime/runtime";
import { FallbackPolicy, RouterConfig, fill, parseRouterConfig } from "./config";
import {
  CAS_MISMATCH, HeaderMap, HostBuffer, LogLevel, MetricKind, continueRequest, defineMetric, getHeader, getHeaders, getSharedData,
  httpCall, incrementMetric, log, nowMs, readBuffer, recordMetric, replaceHeader, sendLocalReply,
  setEffectiveContext, setSharedData, sharedDataCas,
} from "./proxy_host";
import {
  Answer, CONFLICT_MESSAGE, Freshness, LOOP_MESSAGE, LookupPlan, NO_APP_MESSAGE, NO_OWNER_MESSAGES, NO_OWNER_RECORD, NoOwnerReason,
  OwnerSource, REJECTION_CODES, REJECTION_GRPC_STATUS, REJECTION_STATUS, Rejection, UNKNOWN_ANSWER_MESSAGE, UNKNOWN_CARRIED_MESSAGE,
  UNKNOWN_CLAIM_MESSAGE, NO_OWNER, UNKNOWN_REGION, Verdict, answeredRegion, classifyAnswer, conflictFields, failoverRouteValue,
  freshness, isGrpcContentType, isHealthPath, lookupPlan, matchApp, ownerOf,
  parseHops, recordExpiry, recordRegion, refilledTokens, rejectionBody, rejectionText, routeVerdict, tenantHost,
  tenantKey, tenantRecord,
} from "./routing";
import { HostExpiries } from "./host_expiries";
import { RequestHeader, Wire } from "./wire";

const METRIC_PREFIX = "edge_router.";
const INVALID_CONFIGURATION = "invalid configuration: ";
const SHARED_DATA_ATTEMPTS = 3;
// The SDK's contexts form reference cycles, which this runtime frees only in __collect():
// without it every finished stream context would stay allocated.
const STREAMS_PER_COLLECTION = 32;
// A multiple of STREAMS_PER_COLLECTION, so the gauge is sampled right after a collection.
const STREAMS_PER_MEMORY_SAMPLE = 1024;

/**
 * Positions in `metricIds`: these, then rejected.<code> per Rejection (5), then forwarded.<region>
 * per region, then failover.<app>.<region> per app and region (from RegionRouterRoot.failoverBase).
 */
enum Metric {
  RoutedLocal, Fallback, LookupErrors, CacheHits, Lookups, LookupMs, WasmMemoryBytes, StaleHits, LookupsShed,
  LookupsBackedOff, Carried, LookupsRateLimited, Rejected, Forwarded = Rejected + 5,
}
const METRIC_NAMES: Array<string> = [
  "routed_local", "fallback", "lookup_errors", "cache_hits", "lookups", "lookup_ms", "wasm_memory_bytes",
  "stale_hits", "lookups_shed", "lookups_backed_off", "carried", "lookups_rate_limited",
];

/** Why a miss has no owner, by the LookupPlan that kept it from waiting (Join and Start never do). */
const NO_OWNER_BY_PLAN: Array<NoOwnerReason> = [
  NoOwnerReason.LookupFailed, NoOwnerReason.LookupFailed, NoOwnerReason.LookupFailed, NoOwnerReason.LookupsBusy,
  NoOwnerReason.LookupsRateLimited,
];

/** One discovery call in flight and the streams waiting for its answer. */
class TenantLookup {
  host: string;
  token: u32;
  startedMs: i64;
  /**
   * Context ids of the streams waiting for the answer. A stream that ends early (onDelete) sets
   * its slot to 0, so every other id still names a live RegionRouterStream.
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
  wire: Wire = new Wire(new RouterConfig());
  /** The values of Wire.requestHeaders for the request being decided (reused by every request). */
  requestValues: Array<string | null> = [null, null, null, null, null, null];
  metricIds: Array<u32> = [];
  /** Discovery calls in flight in this worker, by host (at most one per host) and by call token. */
  lookupsByHost: Map<string, TenantLookup> = new Map();
  lookupsByToken: Map<u32, TenantLookup> = new Map();
  /** Unknown-tenant answers of this worker (replaced by one of the configured capacity). */
  unknownTenants: HostExpiries = new HostExpiries(1);
  /** Hosts whose last lookup failed, until their back-off ends (same capacity as unknownTenants). */
  backedOff: HostExpiries = new HostExpiries(1);
  /**
   * Owners (region index) this worker read fresh from shared data or learnt itself, until the
   * record's expiry: a hit needs no host call. A removal another worker learns reaches this copy
   * when it expires, at most cacheTtlSeconds later (the same bound a cached owner always had).
   */
  owners: HostExpiries = new HostExpiries(1);
  /** The worker's lookup bucket: tokens held at `tokensAtMs` (full at start). */
  lookupTokens: f64 = 0;
  tokensAtMs: i64 = 0;
  /** Position in `metricIds` of failover.<app>.<region> for app 0 and region 0. */
  failoverBase: i32 = 0;
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
    this.wire = new Wire(config);
    this.unknownTenants = new HostExpiries(config.negativeCacheMaxEntries);
    this.backedOff = new HostExpiries(config.negativeCacheMaxEntries);
    this.owners = new HostExpiries(config.negativeCacheMaxEntries);
    this.lookupTokens = <f64>config.maxLookupsPerSecond;
    this.tokensAtMs = nowMs();
    for (let i = 0; i < METRIC_NAMES.length; i++) {
      let kind = i == Metric.LookupMs ? MetricKind.Histogram : i == Metric.WasmMemoryBytes ? MetricKind.Gauge : MetricKind.Counter;
      this.metricIds.push(defineMetric(kind, METRIC_PREFIX + METRIC_NAMES[i]));
    }
    for (let i = 0; i < REJECTION_CODES.length; i++) this.defineCounter("rejected." + REJECTION_CODES[i]);
    for (let i = 0; i < config.regions.length; i++) this.defineCounter("forwarded." + config.regions[i]);
    this.failoverBase = this.metricIds.length;
    for (let a = 0; a < config.apps.length; a++) {
      for (let r = 0; r < config.regions.length; r++) this.defineCounter("failover." + config.apps[a].app + "." + config.regions[r]);
    }
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
   * Writes `region` ("!" for no owner) for `host` unless an equal, longer-lived record is there.
   * With `onlyOverOwner`, writes only over a record naming an owner (never adds a key).
   */
  storeRecord(host: string, region: string, expiresAtMs: i64, onlyOverOwner: bool): void {
    let key = tenantKey(host);
    let record = tenantRecord(region, expiresAtMs);
    for (let attempt = 0; attempt < SHARED_DATA_ATTEMPTS; attempt++) {
      let current = getSharedData(key);
      if (onlyOverOwner && (current == null || recordRegion(current!).length == 0)) return;
      if (current != null && current!.startsWith(region + "|") && recordExpiry(current!) >= expiresAtMs) return;
      // A mismatch means another worker wrote after our read: read again and decide again.
      if (setSharedData(key, record, current != null ? sharedDataCas : 0) != CAS_MISMATCH) return;
    }
  }

  /** What a request missing the cache does about `host`'s lookup (see routing.ts). */
  plan(host: string, now: i64): LookupPlan {
    let config = this.config;
    this.lookupTokens = refilledTokens(this.lookupTokens, this.tokensAtMs, now, config.maxLookupsPerSecond);
    this.tokensAtMs = now;
    let plan = lookupPlan(this.lookupsByHost.has(host), this.backedOff.has(host, now), this.lookupsByHost.size,
      config.maxConcurrentLookups, this.lookupTokens);
    if (plan == LookupPlan.BackedOff) this.count(Metric.LookupsBackedOff);
    else if (plan == LookupPlan.Busy) this.count(Metric.LookupsShed);
    else if (plan == LookupPlan.RateLimited) this.count(Metric.LookupsRateLimited);
    else if (plan == LookupPlan.Start) this.lookupTokens -= 1;
    return plan;
  }

  /** Calls discovery for `host`; null (and the host backed off) if the host refused the call. */
  startLookup(host: string, now: i64): TenantLookup | null {
    let config = this.config;
    this.count(Metric.Lookups);
    let token = httpCall(config.discoveryCluster, [
      ":method", "GET",
      ":path", fill(config.discoveryPathTemplate, "{host}", host),
      ":authority", config.discoveryAuthority,
    ], config.discoveryTimeoutMs);
    if (token < 0) {
      this.count(Metric.LookupErrors);
      this.backedOff.add(host, now + config.failureBackoffMs);
      return null;
    }
    let lookup = new TenantLookup(host, <u32>token, now);
    this.lookupsByHost.set(host, lookup);
    this.lookupsByToken.set(<u32>token, lookup);
    return lookup;
  }

  /** Starts a background refresh of a stale owner unless one is in flight, or the plan forbids it. */
  refresh(host: string, now: i64): void {
    if (this.plan(host, now) == LookupPlan.Start) this.startLookup(host, now);
  }

  /**
   * Parks `stream` until its host's tenant is known, joining a lookup in flight; the plan that
   * kept it from waiting otherwise (BackedOff, Busy or RateLimited; BackedOff too when the call was refused).
   */
  awaitTenant(stream: RegionRouterStream, now: i64): LookupPlan {
    let host = stream.host;
    let plan = this.plan(host, now);
    let lookup: TenantLookup | null = null;
    if (plan == LookupPlan.Join) lookup = this.lookupsByHost.get(host);
    else if (plan == LookupPlan.Start) lookup = this.startLookup(host, now);
    if (lookup == null) return plan == LookupPlan.Start ? LookupPlan.BackedOff : plan;
    stream.waitSlot = lookup.waiters.length;
    lookup.waiters.push(stream.context_id);
    stream.waitingFor = lookup;
    return LookupPlan.Join;
  }

  onHttpCallResponse(token: u32, headerCount: u32, bodySize: u32, trailerCount: u32): void {
    if (!this.lookupsByToken.has(token)) return;
    let lookup = this.lookupsByToken.get(token);
    this.lookupsByToken.delete(token);
    this.lookupsByHost.delete(lookup.host);
    let config = this.config;
    let now = nowMs();
    // The host clock is the wall clock, which may step back.
    recordMetric(this.metricIds[Metric.LookupMs], max<i64>(now - lookup.startedMs, 0));

    // No headers: the call was reset (Envoy answers a timeout with a 504, an unreachable cluster with a 503).
    let status = headerCount > 0 ? getHeader(HeaderMap.HttpCallResponse, this.wire.status) : null;
    let region = status == "200" ? answeredRegion(readBuffer(HostBuffer.HttpCallResponseBody, bodySize)) : "";
    let owner = ownerOf(config, region);
    let answer = classifyAnswer(status, owner);
    let reason = NoOwnerReason.LookupFailed;
    if (answer == Answer.Owner) {
      this.storeRecord(lookup.host, region, now + config.cacheTtlMs, false);
      this.owners.add(lookup.host, now + config.cacheTtlMs, owner);
    } else if (answer == Answer.UnknownTenant) {
      reason = NoOwnerReason.UnknownTenant;
      this.owners.drop(lookup.host);
      this.unknownTenants.add(lookup.host, now + config.negativeCacheTtlMs);
      // The tenant is gone: its owner record, fresh or stale, must stop serving in every worker.
      this.storeRecord(lookup.host, NO_OWNER_RECORD, now + config.negativeCacheTtlMs, true);
    } else {
      // An answer naming an unknown region is rejected per request and never cached.
      if (answer == Answer.Failed) this.count(Metric.LookupErrors);
      this.backedOff.add(lookup.host, now + config.failureBackoffMs);
    }

    let waiters = lookup.waiters;
    lookup.waiters = [];
    for (let i = 0; i < waiters.length; i++) {
      let id = waiters[i];
      if (id == 0) continue;
      let stream = changetype<RegionRouterStream>(getContext(id));
      stream.waitingFor = null;
      setEffectiveContext(id);
      if (stream.decide(owner, OwnerSource.Lookup, reason) == FilterHeadersStatusValues.Continue) continueRequest();
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
  /** Sideways hops the request already made; -1 until parsed (only when it matters). */
  hops: i32 = -1;
  /** The hop header as the request carried it. */
  hopsText: string | null = null;
  host: string = "";
  /**
   * Index of the x-edge-route value (Wire.routes) once this POP decided an owner (routed or
   * loop-rejected); -1 until then, and for a request that carried an earlier POP's decision.
   */
  decision: i32 = -1;
  /** The decided owner (region index) and its source, once `decision` is set. */
  owner: i32 = NO_OWNER;
  source: OwnerSource = OwnerSource.Jwt;
  /** Whether the request went to a failover cluster, which may have let another region serve it. */
  failover: bool = false;
  /** A gRPC request: its local replies are gRPC statuses (see reject). */
  grpc: bool = false;
  /** The verified claim's owner (see routing.ts ownerOf); NO_OWNER without a claim, or when precedence leaves out jwt. */
  claim: i32 = NO_OWNER;
  waitingFor: TenantLookup | null = null;
  /** Index of this stream's id in `waitingFor.waiters`. */
  waitSlot: i32 = 0;

  constructor(contextId: u32, router: RegionRouterRoot) {
    super(contextId, router);
    this.router = router;
  }

  onRequestHeaders(headerCount: u32, endOfStream: bool): FilterHeadersStatusValues {
    let router = this.router;
    let config = router.config;
    let wire = router.wire;
    let values = router.requestValues;
    getHeaders(HeaderMap.Request, wire.requestHeaders, values);
    let path = values[RequestHeader.Path];
    if (path != null && isHealthPath(path!, config.healthPath)) return FilterHeadersStatusValues.Continue;
    this.grpc = isGrpcContentType(values[RequestHeader.ContentType]);
    this.appIndex = path != null ? matchApp(path!, config.apps) : -1;
    if (this.appIndex < 0) return this.reject(Rejection.NoApp, NO_APP_MESSAGE);
    this.hopsText = values[RequestHeader.Hops];
    // Decided once, at the entry POP: a carried owner wins over a claim and is never looked up again.
    let carried = values[RequestHeader.Owner];
    if (carried != null) return this.follow(carried!);
    let claim = values[RequestHeader.Claim];
    // An empty claim names no known region: it is not a missing owner.
    if (claim != null && config.useJwt) this.claim = config.regionIndex(claim!);
    // A claim for no configured region is refused whatever the tenant says, before any lookup.
    if (this.claim == UNKNOWN_REGION) return this.settle(UNKNOWN_REGION, OwnerSource.Jwt, NoOwnerReason.NoHost);
    // A first-ranked claim decides alone unless conflicts are refused: no tenant lookup.
    if (this.claim >= 0 && !config.tenantFirst && !config.rejectConflicts) {
      return this.settle(this.claim, OwnerSource.Jwt, NoOwnerReason.NoHost);
    }
    if (!config.useTenant) return this.decide(NO_OWNER, OwnerSource.Lookup, NoOwnerReason.NoHost);

    let host = tenantHost(values[RequestHeader.Authority]);
    this.host = host;
    if (host.length == 0) return this.decide(NO_OWNER, OwnerSource.Lookup, NoOwnerReason.NoHost);
    let now = nowMs();
    let known = router.owners.find(host, now);
    if (known >= 0) {
      router.count(Metric.CacheHits);
      return this.decide(known, OwnerSource.Cache, NoOwnerReason.UnknownTenant);
    }
    let record = getSharedData(tenantKey(host));
    let owner = NO_OWNER;
    let state = Freshness.Expired;
    if (record != null) {
      let name = recordRegion(record!);
      let expiresAtMs = recordExpiry(record!);
      owner = ownerOf(config, name);
      state = freshness(name, expiresAtMs, now, config.staleIfErrorMs);
      if (state == Freshness.Fresh && owner >= 0) router.owners.add(host, expiresAtMs, owner);
    }
    // A fresh owner in shared data (learnt by any worker) wins over this worker's unknown answer,
    // which in turn is newer than any stale owner.
    if (state == Freshness.Fresh) {
      router.count(Metric.CacheHits);
      return this.decide(owner, OwnerSource.Cache, NoOwnerReason.UnknownTenant);
    }
    if (router.unknownTenants.has(host, now)) {
      router.count(Metric.CacheHits);
      return this.decide(NO_OWNER, OwnerSource.Cache, NoOwnerReason.UnknownTenant);
    }
    if (state == Freshness.Stale) {
      router.count(Metric.StaleHits);
      router.refresh(host, now);
      return this.decide(owner, OwnerSource.Stale, NoOwnerReason.LookupFailed);
    }
    let plan = router.awaitTenant(this, now);
    if (plan == LookupPlan.Join) return FilterHeadersStatusValues.StopIteration;
    return this.decide(NO_OWNER, OwnerSource.Lookup, NO_OWNER_BY_PLAN[plan]);
  }

  /**
   * Routes on the owner an earlier POP decided: no lookup, no fallback, and no x-edge-route of its
   * own (the client sees the entry POP's). Continue, or StopIteration after a reply.
   */
  follow(owner: string): FilterHeadersStatusValues {
    let router = this.router;
    let config = router.config;
    router.count(Metric.Carried);
    let region = config.regionIndex(owner);
    if (region < 0) return this.reject(Rejection.UnknownRegion, UNKNOWN_CARRIED_MESSAGE);
    // A carried decision always came over the backbone, so it made at least one hop. Only a failover
    // cluster sends one without a hop count (it cannot know in advance whether it goes sideways): the
    // hop is counted here.
    if (this.hopCount() == 0) {
      this.hops = min(1, config.maxHops);
      replaceHeader(HeaderMap.Request, router.wire.hopHeader, router.wire.hops[this.hops]);
    }
    // A request owned here, or one the app's placement lets this region serve for its owner (the
    // entry POP's failover cluster sent it), goes to the local datacenter whatever its hop count.
    let local = region == config.localRegion || config.apps[this.appIndex].servesHere[region];
    let verdict = local ? Verdict.Local : routeVerdict(config, region, this.hops);
    if (verdict == Verdict.Loop) return this.reject(Rejection.LoopDetected, LOOP_MESSAGE);
    this.route(verdict, region);
    return FilterHeadersStatusValues.Continue;
  }

  /** The hop count the request carries, parsed on first use. */
  hopCount(): i32 {
    if (this.hops < 0) this.hops = parseHops(this.hopsText, this.router.config.maxHops);
    return this.hops;
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
   * Combines the tenant's owner `tenant` (found from `source`; NO_OWNER with `reason`) with the
   * claim by the configured precedence and conflict policy, then settles. Continue, or
   * StopIteration after a reply.
   */
  decide(tenant: i32, source: OwnerSource, reason: NoOwnerReason): FilterHeadersStatusValues {
    let config = this.router.config;
    let claim = this.claim;
    if (claim == NO_OWNER) return this.settle(tenant, source, reason);
    // The claim names a region here (an unknown one was refused before the lookup).
    if (tenant == NO_OWNER || tenant == UNKNOWN_REGION && !config.tenantFirst) return this.settle(claim, OwnerSource.Jwt, reason);
    if (tenant >= 0 && tenant != claim && config.rejectConflicts) {
      let regions = config.regions;
      return this.reject(Rejection.OwnerConflict, CONFLICT_MESSAGE, conflictFields(regions[claim], regions[tenant], this.grpc));
    }
    return config.tenantFirst ? this.settle(tenant, source, reason) : this.settle(claim, OwnerSource.Jwt, reason);
  }

  /**
   * Routes the request to `region` (an owner, see routing.ts) found from `source`, or, for
   * NO_OWNER, applies the fallback policy (`reason` says why there is no owner). Continue, or
   * StopIteration after a reply.
   */
  settle(region: i32, source: OwnerSource, reason: NoOwnerReason): FilterHeadersStatusValues {
    let router = this.router;
    let config = router.config;
    if (region == NO_OWNER) {
      if (config.fallbackPolicy == FallbackPolicy.Reject) return this.reject(Rejection.NoOwner, NO_OWNER_MESSAGES[reason]);
      router.count(Metric.Fallback);
      region = config.fallbackIndex;
      source = OwnerSource.Fallback;
    }
    if (region < 0) {
      return this.reject(Rejection.UnknownRegion, source == OwnerSource.Jwt ? UNKNOWN_CLAIM_MESSAGE : UNKNOWN_ANSWER_MESSAGE);
    }
    // The decision names the hops so far, so they are parsed even for a local owner.
    let hops = this.hopCount();
    let verdict = routeVerdict(config, region, hops);
    let wire = router.wire;
    this.decision = wire.decision(region, source, verdict == Verdict.Forward ? hops + 1 : hops);
    if (verdict == Verdict.Loop) return this.reject(Rejection.LoopDetected, LOOP_MESSAGE);
    this.owner = region;
    this.source = source;
    replaceHeader(HeaderMap.Request, wire.sourceHeader, wire.sources[source]);
    let failoverCluster = wire.failoverClusters[this.appIndex][region];
    // Failover is decided at the first POP only (hop 0): the hop header stays unset, as Envoy may serve
    // the request here, and a POP that receives it counts the hop (follow). Any later decision routes
    // as an owner-only app's would.
    if (failoverCluster.byteLength == 0 || hops > 0) this.route(verdict, region);
    else this.routeFailover(verdict, region, failoverCluster);
    return FilterHeadersStatusValues.Continue;
  }

  /**
   * Sends the request to its app's failover cluster for owner `region`: Envoy tries the serving
   * regions in order by their health. The counters count where the owner is.
   */
  routeFailover(verdict: Verdict, region: i32, cluster: ArrayBuffer): void {
    let router = this.router;
    let wire = router.wire;
    this.failover = true;
    replaceHeader(HeaderMap.Request, wire.ownerHeader, wire.regions[region]);
    replaceHeader(HeaderMap.Request, wire.clusterHeader, cluster);
    router.count(verdict == Verdict.Local ? Metric.RoutedLocal : Metric.Forwarded + region);
  }

  /** Sets the request headers for a Local or Forward `verdict` on region index `region`. */
  route(verdict: Verdict, region: i32): void {
    let router = this.router;
    let wire = router.wire;
    // Replace, never add: a client-sent value must not survive (cluster_header reads the first value).
    replaceHeader(HeaderMap.Request, wire.ownerHeader, wire.regions[region]);
    if (verdict == Verdict.Local) {
      replaceHeader(HeaderMap.Request, wire.clusterHeader, wire.localClusters[this.appIndex]);
      router.count(Metric.RoutedLocal);
    } else {
      replaceHeader(HeaderMap.Request, wire.clusterHeader, wire.peerClusters[region]);
      replaceHeader(HeaderMap.Request, wire.hopHeader, wire.hops[this.hops + 1]);
      router.count(Metric.Forwarded + region);
    }
  }

  /**
   * Answers the request itself: JSON `{"error","message",...,"pop"}` with the rejection's HTTP status,
   * or for a gRPC request the rejection's gRPC status with the same fields as text in grpc-message
   * (Envoy sends it trailers-only). `extra` holds the fields between message and pop in the request's
   * form (conflictFields).
   */
  reject(rejection: Rejection, message: string, extra: string = ""): FilterHeadersStatusValues {
    let config = this.router.config;
    let pop = config.pop;
    this.router.count(Metric.Rejected + rejection);
    let grpc = this.grpc;
    let headers = grpc ? [config.popHeader, pop] : ["content-type", "application/json", config.popHeader, pop];
    if (this.decision >= 0) {
      headers.push(config.routeHeader);
      // Only a loop rejection carries a decision: decoding it here keeps the table single.
      headers.push(String.UTF8.decode(this.router.wire.routes[this.decision]));
    }
    let details = METRIC_PREFIX + REJECTION_CODES[rejection];
    if (grpc) {
      sendLocalReply(REJECTION_STATUS[rejection], details, rejectionText(rejection, message, pop, extra), headers,
        REJECTION_GRPC_STATUS[rejection]);
    } else {
      sendLocalReply(REJECTION_STATUS[rejection], details, rejectionBody(rejection, message, pop, extra), headers);
    }
    return FilterHeadersStatusValues.StopIteration;
  }

  onResponseHeaders(headerCount: u32, endOfStream: bool): FilterHeadersStatusValues {
    let wire = this.router.wire;
    replaceHeader(HeaderMap.Response, wire.popHeader, wire.pop);
    // The client sees this POP's decision, never one made further along. Without a decision the
    // response is this filter's own local reply, which carries no route.
    if (this.decision < 0) return FilterHeadersStatusValues.Continue;
    let served = this.failover ? this.servedElsewhere() : -1;
    if (served < 0) {
      replaceHeader(HeaderMap.Response, wire.routeHeader, wire.routes[this.decision]);
      return FilterHeadersStatusValues.Continue;
    }
    let router = this.router;
    let config = router.config;
    router.count(router.failoverBase + this.appIndex * config.regions.length + served);
    let hops = served == config.localRegion ? this.hops : this.hops + 1;
    let value = failoverRouteValue(config.regions[this.owner], config.regions[served], this.source, config.pop, hops);
    replaceHeader(HeaderMap.Response, wire.routeHeader, String.UTF8.encode(value));
    return FilterHeadersStatusValues.Continue;
  }

  /**
   * The region (index) whose datacenter answered, by the served header the datacenter sets, when
   * it is not the owner; -1 when the owner answered, or no datacenter did (a reply of a proxy).
   */
  servedElsewhere(): i32 {
    let router = this.router;
    let served = getHeader(HeaderMap.Response, router.wire.servedHeader);
    if (served == null) return -1;
    let region = router.config.regionIndex(served!);
    return region == this.owner ? -1 : region;
  }

  /** Leaves the lookup this stream waits for, if any (the stream ended before the answer). */
  detach(): void {
    let lookup = this.waitingFor;
    if (lookup != null) {
      lookup.waiters[this.waitSlot] = 0;
      this.waitingFor = null;
    }
  }

  onDelete(): void {
    this.detach();
    this.router.streamDeleted();
  }
}
