// What the dashboard server sends the page, as JSON. Types only and no imports, so the browser code
// (client/, compiled with the DOM's types) and the server read the same definition.

/** The network as drawn: the topology, with each POP marked by whether the deploy's outputs list it. */
export interface NetworkModel {
  project: string;
  regions: RegionNode[];
  apps: { name: string; prefix: string }[];
  tenants: { host: string; region: string }[];
  /** Every pair of regions: each region's POPs reach every other region's POPs over the backbone. */
  backbone: [string, string][];
}

export interface RegionNode {
  name: string;
  jurisdiction: string;
  pops: { id: string; name: string }[];
  datacenter: {
    ingressReplicas: number;
    /** Each app's replicas by instance name (the name its replies carry). */
    apps: { name: string; instances: string[] }[];
  };
}

export type Health = "up" | "down" | "unknown";

/** A cumulative count and its rate over the last reading interval (null before a second reading). */
export interface Decision {
  total: number;
  perSecond: number | null;
}

export interface PopDecisions {
  routedLocal: Decision;
  /** Arrived over the backbone, owner decided by the entry POP (counted in routedLocal too). */
  carried: Decision;
  forwarded: Record<string, Decision>;
  fallback: Decision;
  rejected: Record<string, Decision>;
  lookups: Decision;
  lookupErrors: Decision;
  cacheHits: Decision;
  staleHits: Decision;
  /** Answers for an owner served by another region, by `<app> by <region>`; only those seen. */
  failover: Record<string, Decision>;
  /** Discovery lookup latency in ms, from the filter's histogram (Envoy refreshes it every 5 s). */
  lookupMs: { mean: number | null; p95: number | null; count: number };
}

export interface PopState {
  id: string;
  region: string;
  /** unknown: not read yet, or not in the deploy's outputs. */
  health: Health;
  /** Why the POP is down or unknown. */
  reason?: string;
  /** Null while the POP cannot be read: unknown, never zero. */
  decisions: PopDecisions | null;
}

export interface DatacenterState {
  region: string;
  health: Health | "degraded";
  /** Each app's health as the region's POPs see its local cluster `<app>-<region>`; healthy ingress members, null when unknown. */
  apps: { app: string; health: Health; healthy: number | null }[];
}

export interface MatrixCell {
  entryRegion: string;
  ownerRegion: string;
  /** Requests since the dashboard started. */
  count: number;
  perSecond: number | null;
}

export interface DashboardState {
  /** Milliseconds since the epoch of the reading. */
  at: number;
  deploy: { ok: true; outputsFile: string } | { ok: false; message: string; command: string };
  pops: PopState[];
  datacenters: DatacenterState[];
  /** Entry region x owner region, from the POPs' counters (routed_local - carried on the diagonal, forwarded.<owner> elsewhere). */
  matrix: { regions: string[]; cells: MatrixCell[]; since: number };
}

export type IdentityKind = "user" | "tenant" | "none" | "forged";

/** What the composer posts to /api/request. */
export interface ComposeRequest {
  pop: string;
  app: string;
  identity: { kind: "user"; region: string } | { kind: "tenant"; host: string } | { kind: "none" } | { kind: "forged"; region: string };
}

/** Where a request went, read from x-edge-route, x-edge-pop and the app's reply. */
export interface RequestPath {
  entryPop: string;
  hops: number | null;
  owner: string | null;
  /** Region whose datacenter answered; null when no app did. */
  servedRegion: string | null;
  failover: boolean;
  /** The POP of the serving region that took the sideways hop, when its counters single it out. */
  peerPop: string | null;
  /** POPs of the serving region that may have taken it (more than one under other traffic). */
  peerCandidates: string[];
  instance: string | null;
}

export interface ComposeResult {
  request: { method: "GET"; url: string; headers: Record<string, string>; identity: string };
  status: number;
  ms: number;
  route: string | null;
  routeFields: Record<string, string>;
  pop: string | null;
  body: unknown;
  path: RequestPath;
}

export interface RequestRefusal {
  error: "invalid_request";
  field: string;
  message: string;
}
