// Plugin configuration: parsed and validated once per plugin start, never on the request path.
// Every problem is reported as "<field.path>: <problem>; expected <what is valid>".

import { JsonKind, JsonReader } from "./json";

export enum FallbackPolicy { Reject, Region }

export class AppRoute {
  prefix: string;
  app: string;
  /** Cluster of this app in the local datacenter (localClusterPattern expanded). */
  localCluster: string = "";
  /**
   * By owner region index: the regions that may serve the app for that owner, in order, owner
   * first (names as configured, then as indices once the regions are known).
   */
  servingNames: Array<Array<string>> = [];
  serving: Array<Array<i32>> = [];
  /**
   * By owner region index: the cluster that tries the serving regions in order (failoverClusterPattern
   * expanded), "" when only the owner may serve.
   */
  failoverClusters: Array<string> = [];
  /** By owner region index: whether this POP's region may serve a request of that owner it receives. */
  servesHere: Array<bool> = [];

  constructor(prefix: string, app: string) {
    this.prefix = prefix;
    this.app = app;
  }
}

/**
 * Every field is required: the configuration is generated from the TypeScript side
 * (edge/filter-config.ts), which is the one home of each value. Nothing here has a default.
 */
export class RouterConfig {
  region: string = "";
  /** Index of `region` in `regions`. */
  localRegion: i32 = -1;
  pop: string = "";
  regions: Array<string> = [];
  /** Peer cluster of each region, parallel to `regions` (peerClusterPattern expanded). */
  peerClusters: Array<string> = [];
  apps: Array<AppRoute> = [];
  clusterHeader: string = "";
  claimHeader: string = "";
  hopHeader: string = "";
  /** Owner region decided by the entry POP; a POP receiving it routes on it and decides nothing. */
  ownerHeader: string = "";
  /** Where the entry POP found the owner (jwt, cache, lookup, stale, fallback); informational. */
  sourceHeader: string = "";
  /** Response header naming the POP that answered. */
  popHeader: string = "";
  /** Response header with the entry POP's decision (owner, source, pop, hops). */
  routeHeader: string = "";
  /** Path continued untouched, so the proxy's own health route behind this filter answers it. */
  healthPath: string = "";
  maxHops: i32 = 0;
  discoveryCluster: string = "";
  discoveryAuthority: string = "";
  discoveryPathTemplate: string = "";
  discoveryTimeoutMs: i32 = 0;
  cacheTtlMs: i64 = 0;
  negativeCacheTtlMs: i64 = 0;
  negativeCacheMaxEntries: i32 = 1;
  /** How long past its expiry an owner is still served while it cannot be refreshed. */
  staleIfErrorMs: i64 = 0;
  /** Discovery calls one worker has in flight at most. */
  maxConcurrentLookups: i32 = 0;
  /** After a failed lookup, how long requests for that host do not call discovery. */
  failureBackoffMs: i64 = 0;
  /** Discovery calls one worker starts per second at most. */
  maxLookupsPerSecond: i32 = 0;
  /** Identity sources in `precedence`: whether each is used, and whether the tenant comes first. */
  useJwt: bool = false;
  useTenant: bool = false;
  tenantFirst: bool = false;
  /** `conflict: reject`: a token and a tenant naming different owners get 403 owner_conflict. */
  rejectConflicts: bool = false;
  /** Response header the datacenter sets naming the region that served. */
  servedHeader: string = "";
  fallbackPolicy: FallbackPolicy = FallbackPolicy.Reject;
  fallbackRegion: string = "";
  /** Index of `fallbackRegion` in `regions` (policy region). */
  fallbackIndex: i32 = -1;

  /** Index of `region` in `regions`, -1 if it is not a configured region. */
  regionIndex(region: string): i32 {
    return this.regions.indexOf(region);
  }
}

// Field lists of each object; a field's id is its object's base plus its position in the list.
// Every field of the top level and of discovery is required; fallback.region only with policy region.
const TOP_FIELDS = ",region,pop,regions,apps,localClusterPattern,peerClusterPattern,clusterHeader,claimHeader,hopHeader,maxHops,discovery,fallback,ownerHeader,sourceHeader,healthPath,popHeader,routeHeader,precedence,conflict,failoverClusterPattern,servedHeader,";
const TOP_COUNT = 21;
const DISCOVERY_FIELDS = ",cluster,authority,pathTemplate,timeoutMs,cacheTtlSeconds,negativeCacheTtlSeconds,negativeCacheMaxEntries,staleIfErrorSeconds,maxConcurrentLookups,failureBackoffMs,maxLookupsPerSecond,";
const DISCOVERY_BASE = TOP_COUNT;
const DISCOVERY_COUNT = 11;
const FALLBACK_FIELDS = ",policy,region,";
const FALLBACK_BASE = DISCOVERY_BASE + DISCOVERY_COUNT;
const APP_FIELDS = ",prefix,app,serving,";
const APP_BASE = FALLBACK_BASE + 2;
const APP_COUNT = 3;
/** Field ids of the header names, which must all differ. */
const HEADER_FIELDS: Array<string> = [
  "clusterHeader", "claimHeader", "hopHeader", "ownerHeader", "sourceHeader", "popHeader", "routeHeader", "servedHeader",
];
const REGION_NAME = "a region name [a-z0-9-]";
const NAME = "a name [A-Za-z0-9._-]";
const HEADER_NAME = "a header name [a-z0-9-]";
const IN_REGIONS = "one of regions";
const APP_SHAPE = "{prefix, app, serving}";
const CLUSTER_PATTERN = "a cluster name pattern";
const FALLBACK_POLICY = "reject or region";
const REGION_LIST = "an array of region names";
const APP_LIST = "an array of {prefix, app, serving}";
const SERVING = "per region, in regions order, an array of region names starting with that region";
const PRECEDENCE = "a non-empty array of jwt and tenant, each once";
const CONFLICT = "prefer-first or reject";
const AN_OBJECT = "an object";
const HEALTH_PATH = "a path like /healthz";

/** The integers a numeric field accepts. */
class Range {
  min: i32;
  max: i32;
  constructor(min: i32, max: i32) {
    this.min = min;
    this.max = max;
  }

  expected(): string {
    return "an integer from " + this.min.toString() + " to " + this.max.toString();
  }
}
const HOPS = new Range(0, 8);
const TIMEOUT_MS = new Range(1, 60000);
const TTL_SECONDS = new Range(0, 86400);
const ENTRIES = new Range(1, 1000000);
const LOOKUPS = new Range(1, 100000);
const BACKOFF_MS = new Range(0, 60000);
const AUTHORITY = "host[:port]";
const PATH_TEMPLATE = "a path with {host}";
/** What each required field expects, in the order of TOP_FIELDS and DISCOVERY_FIELDS. */
const TOP_EXPECTED: Array<string> = [
  IN_REGIONS, NAME, REGION_LIST, APP_LIST, CLUSTER_PATTERN, CLUSTER_PATTERN, HEADER_NAME, HEADER_NAME, HEADER_NAME,
  HOPS.expected(), AN_OBJECT, AN_OBJECT, HEADER_NAME, HEADER_NAME, HEALTH_PATH, HEADER_NAME, HEADER_NAME,
  PRECEDENCE, CONFLICT, CLUSTER_PATTERN, HEADER_NAME,
];
const DISCOVERY_EXPECTED: Array<string> = [
  NAME, AUTHORITY, PATH_TEMPLATE, TIMEOUT_MS.expected(), TTL_SECONDS.expected(), TTL_SECONDS.expected(),
  ENTRIES.expected(), TTL_SECONDS.expected(), LOOKUPS.expected(), BACKOFF_MS.expected(), LOOKUPS.expected(),
];
const DISCOVERY_ID = 10;

function isRegionChar(c: i32): bool {
  return <u32>(c - 0x61) < 26 || <u32>(c - 0x30) < 10 || c == 0x2d;
}

function isNameChar(c: i32): bool {
  return isRegionChar(c) || <u32>(c - 0x41) < 26 || c == 0x2e || c == 0x5f;
}

function isVisibleChar(c: i32): bool {
  return c > 0x20 && c < 0x7f;
}

function allChars(s: string, valid: (c: i32) => bool): bool {
  if (s.length == 0 || s.length > 255) return false;
  for (let i = 0; i < s.length; i++) {
    if (!valid(s.charCodeAt(i))) return false;
  }
  return true;
}

function isRegionName(s: string): bool {
  return allChars(s, isRegionChar) && s.length < 64 && s.charCodeAt(0) != 0x2d && s.charCodeAt(s.length - 1) != 0x2d;
}

function isName(s: string): bool {
  return allChars(s, isNameChar);
}

function isHeaderName(s: string): bool {
  return allChars(s, isRegionChar) && s.length <= 64;
}

function isAuthority(s: string): bool {
  return allChars(s, isVisibleChar);
}

function isPathPrefix(s: string): bool {
  return allChars(s, isVisibleChar) && s.startsWith("/") && !s.includes("?") && !s.includes("#")
    && (s == "/" || s.charCodeAt(s.length - 1) != 0x2f);
}

function isPath(s: string): bool {
  return allChars(s, isVisibleChar) && s.startsWith("/") && !s.includes("?") && !s.includes("#");
}

function isPathTemplate(s: string): bool {
  return allChars(s, isVisibleChar) && s.startsWith("/") && s.includes("{host}");
}

/** Name characters around the placeholders {region} and {app}. */
function isLocalClusterPattern(s: string): bool {
  return isName(fill(fill(s, "{region}", "r"), "{app}", "a"));
}

/** Name characters around at least one {region}. */
function isPeerClusterPattern(s: string): bool {
  return isName(fill(s, "{region}", "r")) && s.includes("{region}");
}

function isConflictPolicy(s: string): bool {
  return s == "prefer-first" || s == "reject";
}

function isFallbackPolicy(s: string): bool {
  return s == "reject" || s == "region";
}

/**
 * `template` with every `placeholder` replaced by `value`. Cluster patterns are expanded with
 * this rule on both sides: infra/topology/names.ts `expandPattern` is its TypeScript twin, and
 * filters/region-router/test/cluster-patterns.test.ts feeds both the same cases.
 */
export function fill(template: string, placeholder: string, value: string): string {
  let out = "";
  let from = 0;
  let at = template.indexOf(placeholder);
  while (at >= 0) {
    out += template.substring(from, at) + value;
    from = at + placeholder.length;
    at = template.indexOf(placeholder, from);
  }
  return out + template.substring(from);
}

/** Position of `key` in a ",a,b,c," field list; -1 if it is not listed. */
function fieldIndex(fields: string, key: string): i32 {
  let at = fields.indexOf("," + key + ",");
  let index = -1;
  for (let i = 0; i <= at; i++) {
    if (fields.charCodeAt(i) == 0x2c) index++;
  }
  return index;
}

/** Reads the configuration from JSON, recording a problem for each value that is not valid. */
class ConfigReader {
  json: JsonReader;
  problems: Array<string>;
  config: RouterConfig = new RouterConfig();
  /** The app being read. */
  route: AppRoute = new AppRoute("", "");
  localPattern: string = "";
  peerPattern: string = "";
  failoverPattern: string = "";
  policy: string = "";
  /** Whether discovery was an object, whose fields are then required. */
  discoveryRead: bool = false;
  /** Bit per field id read (top level, discovery, fallback, and the fields of the app being read). */
  seen: u64 = 0;
  /** Path of the member being read: `prefix` + `key`. */
  prefix: string = "";
  key: string = "configuration";

  constructor(text: string, problems: Array<string>) {
    this.json = new JsonReader(text);
    this.problems = problems;
  }

  add(path: string, problem: string, expected: string): void {
    this.problems.push(path + ": " + problem + "; expected " + expected);
  }

  /** Records a problem with the current member and consumes its value. */
  reject(problem: string, expected: string): void {
    this.add(this.prefix + this.key, problem, expected);
    this.json.skip(0);
  }

  /** The current member as a string passing `valid`; "" (and a problem) otherwise. */
  text(valid: (s: string) => bool, expected: string): string {
    if (this.json.kind() != JsonKind.String) {
      this.reject("wrong type", expected);
      return "";
    }
    let value = this.json.string();
    if (valid(value)) return value;
    this.add(this.prefix + this.key, "\"" + value + "\" is not valid", expected);
    return "";
  }

  /** The current member as an integer in `range`; 0 (and a problem) otherwise. */
  integer(range: Range): i32 {
    if (this.json.kind() != JsonKind.Number) {
      this.reject("wrong type", range.expected());
      return 0;
    }
    let value = this.json.number();
    if (this.json.integral && value >= <f64>range.min && value <= <f64>range.max) return <i32>value;
    this.add(this.prefix + this.key, this.json.integral ? "out of range" : "not an integer", range.expected());
    return 0;
  }

  /** Enters the current member's object or array; false (and a problem) if it is something else. */
  open(isObject: bool, expected: string): bool {
    if (this.json.kind() == (isObject ? JsonKind.Object : JsonKind.Array)) {
      this.json.pos++;
      return true;
    }
    this.reject("wrong type", expected);
    return false;
  }

  /** Reads each member of the current member's object; members get paths `path` + key. */
  object(path: string, fields: string, base: i32, expected: string): bool {
    if (!this.open(true, expected)) return false;
    for (let first = true; this.json.more(first, true); first = false) {
      this.key = this.json.key();
      this.prefix = path;
      let index = fieldIndex(fields, this.key);
      if (index < 0) {
        this.reject("unknown field", "only documented fields");
      } else {
        this.seen |= <u64>1 << (base + index);
        this.field(base + index);
      }
    }
    return true;
  }

  field(id: i32): void {
    let config = this.config;
    switch (id) {
      case 0: config.region = this.text(isRegionName, IN_REGIONS); break;
      case 1: config.pop = this.text(isName, NAME); break;
      case 2: this.regions(); break;
      case 3: this.apps(); break;
      case 4: this.localPattern = this.text(isLocalClusterPattern, CLUSTER_PATTERN); break;
      case 5: this.peerPattern = this.text(isPeerClusterPattern, CLUSTER_PATTERN); break;
      case 6: config.clusterHeader = this.text(isHeaderName, HEADER_NAME); break;
      case 7: config.claimHeader = this.text(isHeaderName, HEADER_NAME); break;
      case 8: config.hopHeader = this.text(isHeaderName, HEADER_NAME); break;
      case 9: config.maxHops = this.integer(HOPS); break;
      case DISCOVERY_ID: this.discoveryRead = this.object("discovery.", DISCOVERY_FIELDS, DISCOVERY_BASE, AN_OBJECT); break;
      case 11:
        if (this.object("fallback.", FALLBACK_FIELDS, FALLBACK_BASE, AN_OBJECT) && !this.has(FALLBACK_BASE)) {
          this.add("fallback.policy", "missing", FALLBACK_POLICY);
        }
        break;
      case 12: config.ownerHeader = this.text(isHeaderName, HEADER_NAME); break;
      case 13: config.sourceHeader = this.text(isHeaderName, HEADER_NAME); break;
      case 14: config.healthPath = this.text(isPath, HEALTH_PATH); break;
      case 15: config.popHeader = this.text(isHeaderName, HEADER_NAME); break;
      case 16: config.routeHeader = this.text(isHeaderName, HEADER_NAME); break;
      case 17: this.precedence(); break;
      case 18: config.rejectConflicts = this.text(isConflictPolicy, CONFLICT) == "reject"; break;
      case 19: this.failoverPattern = this.text(isLocalClusterPattern, CLUSTER_PATTERN); break;
      case 20: config.servedHeader = this.text(isHeaderName, HEADER_NAME); break;
      case DISCOVERY_BASE: config.discoveryCluster = this.text(isName, NAME); break;
      case DISCOVERY_BASE + 1: config.discoveryAuthority = this.text(isAuthority, AUTHORITY); break;
      case DISCOVERY_BASE + 2: config.discoveryPathTemplate = this.text(isPathTemplate, PATH_TEMPLATE); break;
      case DISCOVERY_BASE + 3: config.discoveryTimeoutMs = this.integer(TIMEOUT_MS); break;
      case DISCOVERY_BASE + 4: config.cacheTtlMs = <i64>this.integer(TTL_SECONDS) * 1000; break;
      case DISCOVERY_BASE + 5: config.negativeCacheTtlMs = <i64>this.integer(TTL_SECONDS) * 1000; break;
      case DISCOVERY_BASE + 6: config.negativeCacheMaxEntries = this.integer(ENTRIES); break;
      case DISCOVERY_BASE + 7: config.staleIfErrorMs = <i64>this.integer(TTL_SECONDS) * 1000; break;
      case DISCOVERY_BASE + 8: config.maxConcurrentLookups = this.integer(LOOKUPS); break;
      case DISCOVERY_BASE + 9: config.failureBackoffMs = <i64>this.integer(BACKOFF_MS); break;
      case DISCOVERY_BASE + 10: config.maxLookupsPerSecond = this.integer(LOOKUPS); break;
      case FALLBACK_BASE: this.policy = this.text(isFallbackPolicy, FALLBACK_POLICY); break;
      case FALLBACK_BASE + 1: config.fallbackRegion = this.text(isRegionName, IN_REGIONS); break;
      case APP_BASE: this.route.prefix = this.text(isPathPrefix, "a path prefix like /p"); break;
      case APP_BASE + 1: this.route.app = this.text(isName, NAME); break;
      default: this.serving();
    }
  }

  precedence(): void {
    if (!this.open(false, PRECEDENCE)) return;
    let config = this.config;
    let seen: Array<string> = [];
    let i = 0;
    for (; this.json.more(i == 0, false); i++) {
      this.key = "precedence[" + i.toString() + "]";
      let source = this.text((s: string): bool => s == "jwt" || s == "tenant", "jwt or tenant");
      if (source.length == 0) continue;
      if (seen.includes(source)) {
        this.add(this.key, "repeated", "each once");
        continue;
      }
      if (seen.length == 0) config.tenantFirst = source == "tenant";
      seen.push(source);
    }
    if (i == 0) this.add("precedence", "empty", PRECEDENCE);
    config.useJwt = seen.includes("jwt");
    config.useTenant = seen.includes("tenant");
  }

  /** The app's serving lists as names; checked against the regions once every field is read. */
  serving(): void {
    let path = this.prefix + this.key;
    if (!this.open(false, SERVING)) return;
    let lists = this.route.servingNames;
    for (let i = 0; this.json.more(i == 0, false); i++) {
      this.prefix = "";
      this.key = path + "[" + i.toString() + "]";
      let list: Array<string> = [];
      lists.push(list);
      if (!this.open(false, SERVING)) continue;
      let listPath = this.key;
      for (let j = 0; this.json.more(j == 0, false); j++) {
        this.key = listPath + "[" + j.toString() + "]";
        list.push(this.text(isRegionName, REGION_NAME));
      }
    }
  }

  /**
   * Resolves `route`'s serving lists (at `path`) to region indices: one list per region, each
   * starting with that region, naming only configured regions, each once.
   */
  resolveServing(path: string, route: AppRoute): void {
    let config = this.config;
    let names = route.servingNames;
    if (names.length != config.regions.length) {
      this.add(path + ".serving", "has " + names.length.toString() + " lists for " + config.regions.length.toString() + " regions", SERVING);
      return;
    }
    for (let owner = 0; owner < names.length; owner++) {
      let list = names[owner];
      let indices: Array<i32> = [];
      let listPath = path + ".serving[" + owner.toString() + "]";
      if (list.length == 0 || list[0] != config.regions[owner]) {
        this.add(listPath, "does not start with " + config.regions[owner], SERVING);
      }
      for (let j = 0; j < list.length; j++) {
        let region = config.regionIndex(list[j]);
        if (region < 0) this.add(listPath + "[" + j.toString() + "]", "\"" + list[j] + "\" is not in regions", IN_REGIONS);
        else if (indices.includes(region)) this.add(listPath + "[" + j.toString() + "]", "repeated", "each once");
        indices.push(region);
      }
      route.serving.push(indices);
    }
  }

  regions(): void {
    if (!this.open(false, REGION_LIST)) return;
    let regions = this.config.regions;
    let i = 0;
    for (; this.json.more(i == 0, false); i++) {
      this.key = "regions[" + i.toString() + "]";
      let name = this.text(isRegionName, REGION_NAME);
      if (regions.includes(name)) this.add(this.key, "repeated", "each once");
      else if (name.length > 0) regions.push(name);
    }
    if (i == 0) this.add("regions", "empty", REGION_LIST);
  }

  apps(): void {
    if (!this.open(false, APP_LIST)) return;
    let apps = this.config.apps;
    let i = 0;
    for (; this.json.more(i == 0, false); i++) {
      let path = "apps[" + i.toString() + "]";
      this.key = path;
      this.prefix = "";
      let route = new AppRoute("", "");
      this.route = route;
      this.seen &= ~(<u64>((1 << APP_COUNT) - 1) << APP_BASE);
      if (!this.object(path + ".", APP_FIELDS, APP_BASE, APP_SHAPE)) continue;
      if (!this.has(APP_BASE) || !this.has(APP_BASE + 1) || !this.has(APP_BASE + 2)) {
        this.add(path, "prefix, app or serving missing", APP_SHAPE);
      }
      for (let j = 0; j < apps.length; j++) {
        if (route.prefix.length > 0 && apps[j].prefix == route.prefix) this.add(path, "prefix repeated", "each once");
      }
      apps.push(route);
    }
    if (i == 0) this.add("apps", "empty", APP_LIST);
  }

  has(id: i32): bool {
    return (this.seen >> id & 1) != 0;
  }

  /** A "missing" problem for each field of `fields` (ids from `base`) not read. */
  required(path: string, fields: string, base: i32, expected: Array<string>): void {
    let names = fields.substring(1, fields.length - 1).split(",");
    for (let i = 0; i < names.length; i++) {
      if (!this.has(base + i)) this.add(path + names[i], "missing", expected[i]);
    }
  }

  /** A problem unless `region` is empty (absent or already reported) or one of the regions. */
  inRegions(path: string, region: string): void {
    let regions = this.config.regions;
    if (region.length > 0 && regions.length > 0 && !regions.includes(region)) {
      this.add(path, "\"" + region + "\" is not in regions", IN_REGIONS);
    }
  }
}

/** The validated configuration, or null with every problem appended to `problems`. */
export function parseRouterConfig(text: string, problems: Array<string>): RouterConfig | null {
  let reader = new ConfigReader(text, problems);
  let isObject = reader.object("", TOP_FIELDS, 0, "a JSON object");
  if (!reader.json.finished()) {
    // Problems found before the syntax error may be artifacts of it: report only the syntax.
    problems.length = 0;
    reader.add("configuration", "not valid JSON", "a JSON object");
  }
  if (!isObject || !reader.json.finished()) return null;

  let config = reader.config;
  reader.required("", TOP_FIELDS, 0, TOP_EXPECTED);
  if (reader.discoveryRead) reader.required("discovery.", DISCOVERY_FIELDS, DISCOVERY_BASE, DISCOVERY_EXPECTED);
  reader.inRegions("region", config.region);
  reader.inRegions("fallback.region", config.fallbackRegion);
  let regionPolicy = reader.policy == "region";
  if (regionPolicy) config.fallbackPolicy = FallbackPolicy.Region;
  if (regionPolicy != (config.fallbackRegion.length > 0)) {
    reader.add("fallback.region", "does not fit the policy", "a region exactly when policy is region");
  }
  // The first header repeating an earlier one is reported; "" is a name already reported as invalid.
  let headers = [
    config.clusterHeader, config.claimHeader, config.hopHeader, config.ownerHeader, config.sourceHeader,
    config.popHeader, config.routeHeader, config.servedHeader,
  ];
  for (let i = 1; i < headers.length; i++) {
    let name = headers[i];
    if (name.length > 0 && headers.slice(0, i).includes(name)) {
      reader.add(HEADER_FIELDS[i], "reuses another routing header", "distinct header names");
      break;
    }
  }
  if (problems.length == 0) {
    for (let i = 0; i < config.apps.length; i++) reader.resolveServing("apps[" + i.toString() + "]", config.apps[i]);
  }
  if (problems.length > 0) return null;

  config.localRegion = config.regionIndex(config.region);
  for (let i = 0; i < config.apps.length; i++) {
    let app = config.apps[i];
    app.localCluster = fill(fill(reader.localPattern, "{app}", app.app), "{region}", config.region);
    for (let owner = 0; owner < config.regions.length; owner++) {
      let serving = app.serving[owner];
      let failover = serving.length > 1;
      app.failoverClusters.push(failover ? fill(fill(reader.failoverPattern, "{app}", app.app), "{region}", config.regions[owner]) : "");
      app.servesHere.push(serving.indexOf(config.localRegion) > 0);
    }
  }
  for (let i = 0; i < config.regions.length; i++) {
    config.peerClusters.push(fill(reader.peerPattern, "{region}", config.regions[i]));
  }
  config.fallbackIndex = config.regionIndex(config.fallbackRegion);
  return config;
}
