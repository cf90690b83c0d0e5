// What `npm run deploy` leaves in `.edge/outputs.json` for load/ and the tests. Types only and no
// imports, so the k6 scripts (which have no Node modules) read the same definition.

/** One POP's URLs on the host, as its region stack outputs them. */
export interface PopOutput {
  /** `<region>-<pop>` (names.ts popId). */
  id: string;
  region: string;
  pop: string;
  /** The public listener, cleartext (`http://`); it answers 301 to `tlsUrl` when the topology sets tls.redirectCleartext. */
  clientUrl: string;
  /** The public TLS listener (`https://`), its certificate from the CA at DeployOutputs.ca. */
  tlsUrl: string;
  statsUrl: string;
}

export interface AppOutput {
  name: string;
  prefix: string;
  /** `grpc`: the prefix is a gRPC service path (load/grpc-cross-region.ts calls it). Absent in outputs of a deploy before it: http. */
  protocol?: "http" | "grpc";
  /** Per owner region, the regions that may serve the app, owner first (topology servingOrder). */
  serving: Record<string, string[]>;
  /** `jurisdiction`: never served outside the owner's jurisdiction. */
  residency: "none" | "jurisdiction";
}

export interface DeployOutputs {
  project: string;
  regions: string[];
  pops: PopOutput[];
  /** Path of the public CA certificate on the host: what clients of tlsUrl trust (curl --cacert). */
  ca: string;
  tenants: { host: string; region: string }[];
  apps: AppOutput[];
  /** Each region's jurisdiction. */
  jurisdictions: Record<string, string>;
  jwt: { issuer: string; audiences: string[]; regionClaim: string; maxTokenTtlSeconds: number };
}
