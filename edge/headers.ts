/** Internal headers of the edge; every one starts with INTERNAL_HEADER_PREFIX. */

export const INTERNAL_HEADER_PREFIX = "x-edge-";

/** Cluster the POP's `cluster_header` routes read; set only by the region-router filter. */
export const CLUSTER_HEADER = "x-edge-cluster";
/** Sideways hop count; absent means 0. Travels POP to POP over the backbone. */
export const HOP_HEADER = "x-edge-hops";
/** Verified JWT region claim, written by jwt_authn. */
export const CLAIM_HEADER = "x-edge-user-region";
/** Owner region decided by the entry POP; carried to the owner's POP and its datacenter. */
export const OWNER_HEADER = "x-edge-owner";
/** Response headers the filter sets on the way back. */
export const POP_HEADER = "x-edge-pop";
export const ROUTE_HEADER = "x-edge-route";

/** Headers a peer POP may not set: the receiving POP decides the cluster and verifies the claim itself. */
export const BACKBONE_STRIPPED_HEADERS = [CLUSTER_HEADER, CLAIM_HEADER] as const;
