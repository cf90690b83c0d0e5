// What a response through the edge says about its route, and how a k6 script classifies it. Pure
// functions with no k6 imports, so Node tests exercise exactly what the k6 scripts run.

/** The part of a k6 response the classification reads. */
export interface EdgeResponse {
  status: number;
  body: string | null;
  headers: Record<string, string>;
}

/** How the request was attributed to its owner: a region claim in a JWT, a tenant Host, or a Host no tenant has. */
export type OwnerSource = "jwt" | "host" | "unknown";

/** Owner region recorded for requests whose Host belongs to no tenant. */
export const UNKNOWN_OWNER = "unknown-tenant";

export interface RoutedRequest {
  entryRegion: string;
  ownerRegion: string;
  source: OwnerSource;
  /** Regions that may serve it, owner first (the app's serving order for the owner); absent: the owner only. */
  serving?: string[];
}

export type Outcome = "ok" | "failover" | "misroute" | "expected_degraded" | "error";
export const OUTCOMES: Outcome[] = ["ok", "failover", "misroute", "expected_degraded", "error"];

/** A reply the scenario declares correct for requests owned by `ownerRegion` while its fault lasts. */
export interface ExpectedReply {
  status: number;
  /** The `error` field of the JSON body. */
  error: string;
  /** Also require a string field of the body to name the owner region. */
  namesOwnerRegion?: boolean;
}

export interface Classification {
  outcome: Outcome;
  /** Region whose app answered, or `none`. */
  servingRegion: string;
  reason: string;
}

export const NOT_SERVED = "none";

export function header(response: EdgeResponse, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const key of Object.keys(response.headers)) if (key.toLowerCase() === wanted) return response.headers[key];
  return undefined;
}

/** `owner=<region>;source=<s>;pop=<id>;hops=<n>` as a map; empty when absent. */
export function parseRoute(value: string | undefined): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const part of (value ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return fields;
}

function jsonObject(body: string | null): Record<string, unknown> | undefined {
  if (!body) return undefined;
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The app's JSON reply (region that served, hops it saw) when the status is 200. */
export function appReply(response: EdgeResponse): { region?: string; hops?: number | null } | undefined {
  return response.status === 200 ? (jsonObject(response.body) as { region?: string; hops?: number | null } | undefined) : undefined;
}

/** Sideways hops a correctly routed request makes: one exactly when it entered a region other than its owner. */
export function expectedHops(request: RoutedRequest): number {
  return request.entryRegion === request.ownerRegion ? 0 : 1;
}

function servingRegionOf(reply: ReturnType<typeof appReply>, regions: string[]): string {
  const region = reply?.region;
  return region !== undefined && regions.includes(region) ? region : NOT_SERVED;
}

/**
 * ok: 200 from the owner region's app with the expected hop count (as the app saw it, and in
 * `x-edge-route` when present). failover: 200 from another region of the request's serving order,
 * which `x-edge-route` reports (`served=<region>`, `failover=1`), with one sideways hop unless the
 * entry region served it. misroute: 200 from any other region or with another hop count, or a 508
 * (the POPs disagreed about the owner). expected_degraded: the declared reply for the owner region
 * (status and JSON `error` field). Anything else is an error.
 */
export function classifyResponse(
  request: RoutedRequest,
  response: EdgeResponse,
  regions: string[],
  expected?: ExpectedReply,
): Classification {
  // The body is parsed once: this runs for every request of a k6 run.
  const reply = appReply(response);
  const servingRegion = servingRegionOf(reply, regions);
  if (response.status === 200) {
    if (servingRegion === NOT_SERVED) return { outcome: "error", servingRegion, reason: "200 without an app reply" };
    const route = parseRoute(header(response, "x-edge-route"));
    if (servingRegion !== request.ownerRegion) {
      const allowed = request.serving?.includes(servingRegion) === true;
      if (!allowed || route.failover !== "1" || route.served !== servingRegion) {
        const said = route.served === undefined ? "" : ` (x-edge-route served=${route.served} failover=${route.failover ?? "-"})`;
        return { outcome: "misroute", servingRegion, reason: `served by ${servingRegion}, owner ${request.ownerRegion}${said}` };
      }
      const hops = request.entryRegion === servingRegion ? 0 : 1;
      if (reply?.hops !== hops || route.hops !== String(hops)) {
        return { outcome: "misroute", servingRegion, reason: `failover hops app=${reply?.hops} route=${route.hops}, expected ${hops}` };
      }
      return { outcome: "failover", servingRegion, reason: `served by ${servingRegion} for ${request.ownerRegion}` };
    }
    const hops = expectedHops(request);
    const routeHops = route.hops;
    if (reply?.hops !== hops || (routeHops !== undefined && routeHops !== String(hops))) {
      return { outcome: "misroute", servingRegion, reason: `hops app=${reply?.hops} route=${routeHops}, expected ${hops}` };
    }
    return { outcome: "ok", servingRegion, reason: "" };
  }
  if (response.status === 508) return { outcome: "misroute", servingRegion, reason: "508 loop_detected" };
  const body = jsonObject(response.body);
  if (expected && response.status === expected.status) {
    const namesOwner =
      !expected.namesOwnerRegion ||
      Object.values(body ?? {}).some((v) => typeof v === "string" && v.includes(request.ownerRegion));
    if (body?.error === expected.error && namesOwner) return { outcome: "expected_degraded", servingRegion, reason: "" };
  }
  const error = body?.error;
  return {
    outcome: "error",
    servingRegion,
    reason: response.status === 0 ? "no response" : `${response.status}${typeof error === "string" ? ` ${error}` : ""}`,
  };
}
