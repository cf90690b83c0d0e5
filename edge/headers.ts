/** Internal headers of the edge; every one starts with INTERNAL_HEADER_PREFIX. */

export const INTERNAL_HEADER_PREFIX = "x-edge-";

/** Cluster the POP's `cluster_header` routes read; set only by the region-router filter. */
export const CLUSTER_HEADER = "x-edge-cluster";
/** Sideways hop count; absent means 0. Travels POP to POP over the backbone. */
export const HOP_HEADER = "x-edge-hops";
/**
 * The entry POP's decision: the owner region and where it was found (jwt, cache, lookup, stale,
 * fallback). Set on every routed request and carried POP to POP over the backbone; a POP receiving
 * an owner routes on it without a tenant lookup or fallback. Clients cannot send them: the public
 * listener strips every INTERNAL_HEADER_PREFIX header.
 */
export const OWNER_HEADER = "x-edge-owner";
export const SOURCE_HEADER = "x-edge-source";
/**
 * Region of the POP that forwarded a request, set on everything a POP routes when the topology
 * declares a WAN; the receiving POP delays it by that pair's round trip (wan.ts). Carried like the
 * decision headers, so peers may set it and clients may not.
 */
export const FROM_REGION_HEADER = "x-edge-from-region";
/** Verified JWT region claim, written by jwt_authn. */
export const CLAIM_HEADER = "x-edge-user-region";
/** Response headers the filter sets on the way back. */
export const POP_HEADER = "x-edge-pop";
export const ROUTE_HEADER = "x-edge-route";
/**
 * Response header a datacenter ingress sets on every answer an app gave: the ingress's region. The
 * entry POP compares it with the owner to report a failover.
 */
export const SERVED_HEADER = "x-edge-served";
/**
 * Response header on a 503 that reached no app (a POP's owner_unavailable, an ingress's
 * app_unavailable): the request was never served, so an entry POP may try the next serving region
 * with any method. Removed before the client sees the response.
 */
export const UNSERVED_HEADER = "x-edge-unserved";

/**
 * Headers a peer POP may not set: the receiving POP decides the cluster and verifies the claim itself.
 * OWNER_HEADER, SOURCE_HEADER and HOP_HEADER must not be listed: they are what a peer carries.
 */
export const BACKBONE_STRIPPED_HEADERS = [CLUSTER_HEADER, CLAIM_HEADER] as const;
