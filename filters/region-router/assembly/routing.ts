// Routing decisions as pure functions of the configuration and request facts.
// No host calls here: the contexts in router.ts read headers, call these, and apply the result.

import { AppRoute, RouterConfig } from "./config";
import { JsonKind, JsonReader } from "./json";

export enum OwnerSource { Jwt, Cache, Lookup, Fallback, Stale }

const SOURCE_NAMES: Array<string> = ["jwt", "cache", "lookup", "fallback", "stale"];
export const SOURCE_COUNT = 5;

/** The name of `source` in x-edge-route and in the carried source header. */
export function sourceName(source: OwnerSource): string {
  return SOURCE_NAMES[source];
}

/** Length of `path` without its query and fragment. */
function pathEnd(path: string): i32 {
  for (let i = 0; i < path.length; i++) {
    let c = path.charCodeAt(i);
    if (c == 0x3f || c == 0x23) return i;
  }
  return path.length;
}

/**
 * Whether `path` is the health path or one below it (an app's health through this proxy, as
 * `<healthPath>/<app>`). Query and fragment are ignored, as Envoy's `path` route match ignores
 * them, so the filter lets through what the health routes answer; a path below it that no health
 * route names matches no route at all (404).
 */
export function isHealthPath(path: string, healthPath: string): bool {
  let end = pathEnd(path);
  let n = healthPath.length;
  return end >= n && path.startsWith(healthPath) && (end == n || path.charCodeAt(n) == 0x2f);
}

/**
 * Index of the app serving `path`, -1 if none. Query and fragment are ignored. A prefix `/p`
 * matches `/p` and `/p/...` but not `/px`; the longest matching prefix wins.
 */
export function matchApp(path: string, apps: Array<AppRoute>): i32 {
  let end = pathEnd(path);
  let best = -1;
  let bestLength = -1;
  for (let i = 0; i < apps.length; i++) {
    let prefix = apps[i].prefix;
    let n = prefix.length;
    if (n > bestLength && n <= end && path.startsWith(prefix)
      && (n == end || prefix == "/" || path.charCodeAt(n) == 0x2f)) {
      best = i;
      bestLength = n;
    }
  }
  return best;
}

/** A decimal number of 1 to `maxDigits` digits; -1 if `text` is anything else. */
export function parseDecimal(text: string, maxDigits: i32): i64 {
  if (text.length == 0 || text.length > maxDigits) return -1;
  let value: i64 = 0;
  for (let i = 0; i < text.length; i++) {
    let digit = text.charCodeAt(i) - 0x30;
    if (<u32>digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * Sideways hops a request already made, from 0 to `maxHops`. Absent means 0. A count above the
 * limit, or anything but a short decimal number, counts as `maxHops`, so such a request is never
 * forwarded again.
 */
export function parseHops(header: string | null, maxHops: i32): i32 {
  let hops = header != null ? parseDecimal(header!, 2) : 0;
  return hops < 0 || hops > <i64>maxHops ? maxHops : <i32>hops;
}

/**
 * The tenant host of an `:authority`: ASCII-lowercased, without port and trailing dot.
 * "" unless it is a DNS name (letters, digits, '.', '-'): such a host is never looked up, and
 * anything returned is safe in a URL path and a shared-data key as it is.
 */
export function tenantHost(authority: string | null): string {
  let host = authority != null ? authority! : "";
  let colon = host.indexOf(":");
  if (colon >= 0) {
    if (parseDecimal(host.substring(colon + 1), 5) < 0) return "";
    host = host.substring(0, colon);
  }
  let n = host.length;
  if (n > 0 && host.charCodeAt(n - 1) == 0x2e) host = host.substring(0, --n);
  if (n == 0 || n > 253) return "";
  // Most hosts arrive lower-case: then the host is returned as it is, without a copy.
  let lower = true;
  for (let i = 0; i < n && lower; i++) {
    let c = host.charCodeAt(i);
    lower = <u32>(c - 0x61) < 26 || <u32>(c - 0x30) < 10 || c == 0x2e || c == 0x2d;
  }
  if (lower) return host;
  let bytes = new ArrayBuffer(n);
  for (let i = 0; i < n; i++) {
    let c = host.charCodeAt(i);
    if (<u32>(c - 0x41) < 26) c |= 0x20;
    if (!(<u32>(c - 0x61) < 26 || <u32>(c - 0x30) < 10 || c == 0x2e || c == 0x2d)) return "";
    store<u8>(changetype<usize>(bytes) + i, c);
  }
  return String.UTF8.decode(bytes);
}

export enum Verdict { Local, Forward, UnknownRegion, Loop }

/**
 * What to do with a request owned by region index `owner` (-1: not a configured region) that
 * already made `hops` sideways hops; `hops` matters only when the owner is another region.
 */
export function routeVerdict(config: RouterConfig, owner: i32, hops: i32): Verdict {
  if (owner < 0) return Verdict.UnknownRegion;
  if (owner == config.localRegion) return Verdict.Local;
  return hops >= config.maxHops ? Verdict.Loop : Verdict.Forward;
}

/** Value of the `x-edge-route` response header. */
export function routeHeaderValue(owner: string, source: i32, pop: string, hops: i32): string {
  return "owner=" + owner + ";source=" + sourceName(source) + ";pop=" + pop + ";hops=" + hops.toString();
}

/**
 * The `routeHeader` value of a request owned by `owner` that region `served` (another region)
 * answered: the decision's own value with `served=` and `failover=1` added.
 */
export function failoverRouteValue(owner: string, served: string, source: i32, pop: string, hops: i32): string {
  return "owner=" + owner + ";served=" + served + ";source=" + sourceName(source) + ";pop=" + pop + ";hops=" + hops.toString()
    + ";failover=1";
}

export enum Rejection { NoApp, UnknownRegion, NoOwner, LoopDetected, OwnerConflict }

export const REJECTION_CODES: Array<string> = ["no_app", "unknown_region", "no_owner", "loop_detected", "owner_conflict"];
export const REJECTION_STATUS: Array<u32> = [404, 403, 503, 508, 403];
/**
 * The gRPC status of each rejection, for a gRPC request: NOT_FOUND (5; Envoy would map the 404 to
 * UNIMPLEMENTED, which means the service exists), PERMISSION_DENIED (7), UNAVAILABLE (14), INTERNAL
 * (13: the edge broke its own one-hop rule, which neither the caller nor a retry can mend),
 * PERMISSION_DENIED.
 */
export const REJECTION_GRPC_STATUS: Array<u32> = [5, 7, 14, 13, 7];

/**
 * Whether a request is gRPC, by Envoy's rule (it answers such a request's local replies as gRPC):
 * the content type is exactly `application/grpc` or starts with `application/grpc+`.
 */
export function isGrpcContentType(contentType: string | null): bool {
  if (contentType == null) return false;
  let value = contentType!;
  return value.startsWith("application/grpc") && (value.length == 16 || value.charCodeAt(16) == 0x2b);
}

/**
 * Body of a local reply, with `extra` (`,"key":"value"...` or "") before the POP. Messages are
 * fixed texts, and the POP id and region names are validated names, so nothing needs JSON escaping.
 */
export function rejectionBody(rejection: Rejection, message: string, pop: string, extra: string = ""): string {
  return "{\"error\":\"" + REJECTION_CODES[rejection] + "\",\"message\":\"" + message + "\"" + extra + ",\"pop\":\"" + pop + "\"}";
}

/**
 * A local reply's `grpc-message` for a gRPC request: the JSON body's fields as text,
 * `<error>: <message> (<key>=<value> ... pop=<pop>)`, with `extra` (`<key>=<value> ` pairs, or "").
 */
export function rejectionText(rejection: Rejection, message: string, pop: string, extra: string = ""): string {
  return REJECTION_CODES[rejection] + ": " + message + " (" + extra + "pop=" + pop + ")";
}

export const CONFLICT_MESSAGE = "token and tenant name different owner regions";

/** The extra fields of an owner_conflict reply: JSON (`rejectionBody`), or text (`rejectionText`). */
export function conflictFields(tokenRegion: string, tenantRegion: string, text: bool = false): string {
  if (text) return "token_region=" + tokenRegion + " tenant_region=" + tenantRegion + " ";
  return ",\"token_region\":\"" + tokenRegion + "\",\"tenant_region\":\"" + tenantRegion + "\"";
}

export const NO_APP_MESSAGE = "no app serves this path";
export const UNKNOWN_CLAIM_MESSAGE = "unknown region in token";
export const UNKNOWN_ANSWER_MESSAGE = "unknown region from discovery";
export const UNKNOWN_CARRIED_MESSAGE = "carried decision names an unknown region";
export const LOOP_MESSAGE = "hop limit reached";

/** Why no owner region was found, before the fallback policy applies. */
export enum NoOwnerReason { NoHost, UnknownTenant, LookupFailed, LookupsBusy, LookupsRateLimited }

export const NO_OWNER_MESSAGES: Array<string> = [
  "no tenant host", "unknown tenant", "tenant lookup failed", "too many tenant lookups in flight",
  "tenant lookup rate exceeded",
];

// Degrading discovery. A cached owner is served fresh until it expires, then "stale" for up to
// staleIfErrorMs more: such a request is routed at once while one background lookup per host
// refreshes the record. Only a record naming an owner is ever served stale. Misses wait for a
// lookup, unless the worker already has maxConcurrentLookups calls in flight, has started
// maxLookupsPerSecond calls in the last second (a token bucket), or the host's last lookup failed
// less than failureBackoffMs ago: then the request gets the no-owner outcome at once.

export enum Freshness { Fresh, Stale, Expired }

/** How a cached record for `region` ("" for no owner) expiring at `expiresAtMs` may serve at `nowMs`. */
export function freshness(region: string, expiresAtMs: i64, nowMs: i64, staleIfErrorMs: i64): Freshness {
  if (expiresAtMs > nowMs) return Freshness.Fresh;
  return region.length > 0 && expiresAtMs >= 0 && nowMs - expiresAtMs < staleIfErrorMs ? Freshness.Stale : Freshness.Expired;
}

export enum LookupPlan { Join, Start, BackedOff, Busy, RateLimited }

/**
 * Whether a request missing the cache joins a lookup, starts one, or gets no owner at once.
 * `lookupTokens` is what the worker's bucket holds (a start takes one whole token).
 */
export function lookupPlan(inFlight: bool, backedOff: bool, lookupsInFlight: i32, maxConcurrentLookups: i32, lookupTokens: f64): LookupPlan {
  if (inFlight) return LookupPlan.Join;
  if (backedOff) return LookupPlan.BackedOff;
  if (lookupsInFlight >= maxConcurrentLookups) return LookupPlan.Busy;
  return lookupTokens >= 1 ? LookupPlan.Start : LookupPlan.RateLimited;
}

/** The bucket of `maxPerSecond` lookups holding `tokens` at `lastMs`, refilled up to `nowMs`. */
export function refilledTokens(tokens: f64, lastMs: i64, nowMs: i64, maxPerSecond: i32): f64 {
  // The wall clock may step back: a negative interval adds nothing.
  let added = <f64>max<i64>(nowMs - lastMs, 0) * <f64>maxPerSecond / 1000;
  return min<f64>(tokens + added, <f64>maxPerSecond);
}

// An owner as the router passes it on: a region index, UNKNOWN_REGION for a name that is not one
// of the configured regions, or NO_OWNER when nothing named an owner.
export const UNKNOWN_REGION: i32 = -1;
export const NO_OWNER: i32 = -2;

/** `name` ("" for none) as an owner (see NO_OWNER), looked up once. */
export function ownerOf(config: RouterConfig, name: string): i32 {
  return name.length == 0 ? NO_OWNER : config.regionIndex(name);
}

export enum Answer { Owner, UnknownTenant, UnknownRegion, Failed }

/**
 * What a discovery answer says. `status` is null for a reset call; `owner` is the answered region
 * as an owner (NO_OWNER if the body is no answer). Only an Owner is cached; UnknownRegion and
 * Failed start the host's back-off.
 */
export function classifyAnswer(status: string | null, owner: i32): Answer {
  if (status == "404") return Answer.UnknownTenant;
  if (status != "200" || owner == NO_OWNER) return Answer.Failed;
  return owner >= 0 ? Answer.Owner : Answer.UnknownRegion;
}

/** The `region` of a discovery answer `{"host":..., "region":...}`; "" if the body is not such an answer. */
export function answeredRegion(body: string): string {
  let json = new JsonReader(body);
  let region = "";
  if (json.take(0x7b)) {
    for (let first = true; json.more(first, true); first = false) {
      if (json.key() == "region" && json.kind() == JsonKind.String) region = json.string();
      else json.skip(0);
    }
  }
  return json.finished() ? region : "";
}

// Tenant owners cached in shared data: key `edge-router/tenant/<host>`, value `<region>|<expiresAtMs>`.
// Unknown tenants are cached per worker (host_expiries.ts). A `!|<expiresAtMs>` record names no
// owner: it replaces an owner record when discovery answers 404 for that host (keys cannot be
// deleted), so no worker serves the removed tenant's owner, fresh or stale.

export const NO_OWNER_RECORD = "!";

export function tenantKey(host: string): string {
  return "edge-router/tenant/" + host;
}

/** A record for `region` that expires at `expiresAtMs`. */
export function tenantRecord(region: string, expiresAtMs: i64): string {
  let low = (<i32>(expiresAtMs % 1000000000)).toString();
  let high = <i32>(expiresAtMs / 1000000000);
  let digits = high > 0 ? high.toString() + "00000000".substring(low.length - 1) + low : low;
  return region + "|" + digits;
}

/** The region of a record ("" for an unknown tenant). */
export function recordRegion(record: string): string {
  let region = record.substring(0, record.indexOf("|"));
  return region == "!" ? "" : region;
}

/** The expiry of a record; -1 if it is malformed. */
export function recordExpiry(record: string): i64 {
  let bar = record.indexOf("|");
  return bar > 0 ? parseDecimal(record.substring(bar + 1), 18) : -1;
}
