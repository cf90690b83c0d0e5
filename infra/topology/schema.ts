import { z } from "zod";
import type { App, Topology } from "./model.ts";

/**
 * Shape of infra/topology.yaml. Custom messages follow "<problem>; expected <what is valid>";
 * load.ts prefixes the field path and words the remaining zod issues the same way.
 */

export const NAME_PATTERN = /^[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
export const NAME_RULE =
  "lowercase letters, digits and '-' (1-40 chars, starting with a letter, not ending with '-')";

export const PREFIX_PATTERN = /^(?:\/[A-Za-z0-9._~-]+)+$/;
export const PREFIX_RULE =
  "'/' followed by path segments of letters, digits, '.', '_', '~' or '-' (no trailing '/')";

export const GRPC_PREFIX_RULE =
  "'/' and the fully-qualified service name (proto identifiers joined by '.'), e.g. /edgerim.profile.v1.Profile";

const HOST_LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
export const HOSTNAME_PATTERN = new RegExp(`^(?=.{1,253}$)${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);
export const HOSTNAME_RULE = "a lowercase DNS hostname without port, e.g. acme.example.test";

export const DOCKER_HOST_PATTERN = /^(?:ssh|tcp):\/\/(?:[^@/\s]+@)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?\/?$/;
export const IPV4_PATTERN = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
export const ADDRESS_RULE = "an IPv4 address or a lowercase DNS hostname, without port";
export const DOCKER_HOST_RULE = "ssh://[user@]host[:port] or tcp://host:port";

/** Short, single-line rendering of a user value for messages. */
export function showValue(value: unknown): string {
  if (value === undefined) return "undefined";
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function patterned(pattern: RegExp, what: string, rule: string) {
  return z
    .string()
    .regex(pattern, { error: (issue) => `${showValue(issue.input)} is not a valid ${what}; expected ${rule}` });
}

function integer(min: number, max: number, what: string) {
  const expected = `${what}, an integer from ${min} to ${max}`;
  return z
    .int({ error: (issue) => `${showValue(issue.input)} is not an integer; expected ${expected}` })
    .min(min, { error: (issue) => `${showValue(issue.input)} is out of range; expected ${expected}` })
    .max(max, { error: (issue) => `${showValue(issue.input)} is out of range; expected ${expected}` });
}

const name = () => patterned(NAME_PATTERN, "name", NAME_RULE);
const port = () => integer(1, 65535, "a port");

/** One of `values`, else "<value> is not <what>; expected a, b or c". */
function oneOf<const T extends readonly [string, ...string[]]>(values: T, what: string) {
  const expected = values.length === 1 ? values[0] : `${values.slice(0, -1).join(", ")} or ${values.at(-1)}`;
  return z.enum(values, {
    error: (issue) => `${issue.input === undefined ? "is missing" : `${showValue(issue.input)} is not ${what}`}; expected ${expected}`,
  });
}

const jurisdiction = () => {
  const expected = `a jurisdiction name such as us, eu or apac: ${NAME_RULE}`;
  return z
    .string({ error: (issue) => `${issue.input === undefined ? "is missing" : `${showValue(issue.input)} is not a string`}; expected ${expected}` })
    .regex(NAME_PATTERN, { error: (issue) => `${showValue(issue.input)} is not a valid jurisdiction name; expected ${expected}` });
};

export const DEFAULTS = {
  regionClaim: "region",
  /** Six hours: the load generators' tokens outlive any run here. */
  maxTokenTtlSeconds: 6 * 3600,
  app: { protocol: "http", placement: "owner-only", residency: "none" },
  routing: {
    fallback: { policy: "reject" } as const,
    maxHops: 1,
    precedence: ["jwt", "tenant"],
    conflict: "prefer-first",
    discovery: {
      timeoutMs: 500,
      cacheTtlSeconds: 30,
      negativeCacheTtlSeconds: 5,
      negativeCacheMaxEntries: 4096,
      staleIfErrorSeconds: 600,
      maxConcurrentLookups: 64,
      maxLookupsPerSecond: 500,
      failureBackoffMs: 1000,
    },
  },
  timeouts: { connectMs: 1000, requestHeadersMs: 10_000, requestMs: 60_000, streamIdleMs: 300_000, routeMs: 15_000 },
  ports: { popClient: 8080, popClientTls: 8444, popBackbone: 8443, envoyAdmin: 9901, envoyStats: 9902, ingress: 8080, app: 8080, discovery: 8080 },
  tls: { domain: "edgerim.test", redirectCleartext: false },
  resources: {
    envoyConcurrency: 2,
    nofile: 262144,
    memoryMb: { pop: 256, ingress: 192, app: 128, discovery: 96 },
    connections: { perListener: 8192, global: 16384 },
  },
} satisfies Omit<Partial<Topology>, "jwt"> & { regionClaim: string; maxTokenTtlSeconds: number; app: Pick<App, "protocol" | "placement" | "residency"> };

const jwtSchema = z.strictObject({
  issuer: z.url({
    error: (issue) =>
      `${issue.input === undefined ? "is missing" : `${showValue(issue.input)} is not a URL`}; expected the token issuer, e.g. https://auth.example.test`,
  }),
  audiences: z
    .array(z.string().min(1, { error: "is empty; expected a non-empty audience" }))
    .min(1, { error: "is empty; expected at least one audience" }),
  regionClaim: patterned(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, "claim name", "a JWT claim name like region").default(
    DEFAULTS.regionClaim,
  ),
  maxTokenTtlSeconds: integer(60, 7 * 24 * 3600, "a token lifetime in seconds").default(DEFAULTS.maxTokenTtlSeconds),
});

const PLACEMENT_FORMS = "owner-only, { failover: [<region name>, ...] }, { failover: same-jurisdiction } or { failover: any }";

const placementSchema = z.union(
  [
    z.literal("owner-only"),
    z.strictObject({
      failover: z.union([
        z.array(name()).min(1, { error: "is empty; expected at least one region name (or placement: owner-only for no failover)" }),
        z.enum(["same-jurisdiction", "any"]),
      ]),
    }),
  ],
  {
    // Reached only when no form fits at all; a bad region name or an unknown key inside
    // `{ failover: [...] }` is reported at its own path.
    error: (issue) => {
      const input = issue.input;
      if (typeof input === "object" && input !== null && !Array.isArray(input) && "failover" in input) {
        return `failover ${showValue(input.failover)} is not a list of region names, same-jurisdiction or any; expected ${PLACEMENT_FORMS}`;
      }
      return `${input === undefined ? "is missing" : `${showValue(input)} is not a placement`}; expected ${PLACEMENT_FORMS}`;
    },
  },
);

const appSchema = z.strictObject({
  name: name(),
  prefix: patterned(PREFIX_PATTERN, "path prefix", PREFIX_RULE),
  protocol: oneOf(["http", "grpc"], "an app protocol").default(DEFAULTS.app.protocol),
  placement: placementSchema.default(DEFAULTS.app.placement),
  residency: oneOf(["none", "jurisdiction"], "a residency").default(DEFAULTS.app.residency),
});

const fallbackSchema = z.discriminatedUnion(
  "policy",
  [
    z.strictObject({ policy: z.literal("reject") }),
    z.strictObject({ policy: z.literal("region"), region: name() }),
  ],
  {
    error: (issue) => {
      const input = issue.input;
      const forms = `{ policy: reject } or { policy: region, region: <region name> }`;
      if (typeof input !== "object" || input === null || Array.isArray(input)) {
        return `${showValue(input)} is not a mapping; expected ${forms}`;
      }
      const policy = "policy" in input ? input.policy : undefined;
      return `${showValue(policy)} is not a fallback policy; expected ${forms}`;
    },
  },
);

const discoverySchema = z.strictObject({
  timeoutMs: integer(1, 60_000, "milliseconds").default(DEFAULTS.routing.discovery.timeoutMs),
  cacheTtlSeconds: integer(0, 86_400, "seconds").default(DEFAULTS.routing.discovery.cacheTtlSeconds),
  negativeCacheTtlSeconds: integer(0, 86_400, "seconds").default(DEFAULTS.routing.discovery.negativeCacheTtlSeconds),
  negativeCacheMaxEntries: integer(1, 1_000_000, "unknown hosts per worker").default(DEFAULTS.routing.discovery.negativeCacheMaxEntries),
  staleIfErrorSeconds: integer(0, 86_400, "seconds").default(DEFAULTS.routing.discovery.staleIfErrorSeconds),
  maxConcurrentLookups: integer(1, 100_000, "lookups in flight per worker").default(DEFAULTS.routing.discovery.maxConcurrentLookups),
  maxLookupsPerSecond: integer(1, 100_000, "lookups started per second per worker").default(DEFAULTS.routing.discovery.maxLookupsPerSecond),
  failureBackoffMs: integer(0, 60_000, "milliseconds").default(DEFAULTS.routing.discovery.failureBackoffMs),
});

const identitySource = oneOf(["jwt", "tenant"], "an identity source");

/** Each source at most once: see `precedenceSourcesUnique` in rules.ts. */
const precedenceSchema = z
  .array(identitySource)
  .min(1, { error: "is empty; expected a list of jwt and tenant, each at most once, e.g. [jwt, tenant]" });

const routingSchema = z.strictObject({
  fallback: fallbackSchema.default(DEFAULTS.routing.fallback),
  maxHops: integer(1, 8, "a hop count").default(DEFAULTS.routing.maxHops),
  precedence: precedenceSchema.default(() => [...DEFAULTS.routing.precedence]),
  conflict: oneOf(["prefer-first", "reject"], "a conflict policy").default(DEFAULTS.routing.conflict),
  discovery: discoverySchema.prefault({}),
});

const timeoutsSchema = z.strictObject({
  connectMs: integer(1, 60_000, "milliseconds").default(DEFAULTS.timeouts.connectMs),
  requestHeadersMs: integer(1, 600_000, "milliseconds").default(DEFAULTS.timeouts.requestHeadersMs),
  requestMs: integer(1, 3_600_000, "milliseconds").default(DEFAULTS.timeouts.requestMs),
  streamIdleMs: integer(1, 3_600_000, "milliseconds").default(DEFAULTS.timeouts.streamIdleMs),
  routeMs: integer(1, 3_600_000, "milliseconds").default(DEFAULTS.timeouts.routeMs),
});

const portsSchema = z.strictObject({
  popClient: port().default(DEFAULTS.ports.popClient),
  popClientTls: port().default(DEFAULTS.ports.popClientTls),
  popBackbone: port().default(DEFAULTS.ports.popBackbone),
  envoyAdmin: port().default(DEFAULTS.ports.envoyAdmin),
  envoyStats: port().default(DEFAULTS.ports.envoyStats),
  ingress: port().default(DEFAULTS.ports.ingress),
  app: port().default(DEFAULTS.ports.app),
  discovery: port().default(DEFAULTS.ports.discovery),
});

const memorySchema = z.strictObject({
  pop: integer(32, 65_536, "MiB").default(DEFAULTS.resources.memoryMb.pop),
  ingress: integer(32, 65_536, "MiB").default(DEFAULTS.resources.memoryMb.ingress),
  app: integer(16, 65_536, "MiB").default(DEFAULTS.resources.memoryMb.app),
  discovery: integer(16, 65_536, "MiB").default(DEFAULTS.resources.memoryMb.discovery),
});

const connectionsSchema = z.strictObject({
  perListener: integer(1, 1_000_000, "a connection count").default(DEFAULTS.resources.connections.perListener),
  global: integer(1, 1_000_000, "a connection count").default(DEFAULTS.resources.connections.global),
});

const resourcesSchema = z.strictObject({
  envoyConcurrency: integer(1, 64, "worker threads").default(DEFAULTS.resources.envoyConcurrency),
  nofile: integer(1024, 1_048_576, "an open-files limit").default(DEFAULTS.resources.nofile),
  memoryMb: memorySchema.prefault({}),
  connections: connectionsSchema.prefault({}),
});

const tlsSchema = z.strictObject({
  domain: patterned(HOSTNAME_PATTERN, "domain", HOSTNAME_RULE).default(DEFAULTS.tls.domain),
  redirectCleartext: z.boolean({ error: (issue) => `${showValue(issue.input)} is not true or false; expected a boolean` }).default(DEFAULTS.tls.redirectCleartext),
});

export const popSchema = z.strictObject({
  name: name(),
  clientPort: port(),
  statsPort: port(),
  tlsPort: port(),
});

export const regionSchema = z.strictObject({
  name: name(),
  jurisdiction: jurisdiction(),
  dockerHost: patterned(DOCKER_HOST_PATTERN, "Docker host", DOCKER_HOST_RULE).optional(),
  backbonePort: port().optional(),
  backboneAddress: z.string().refine((v) => IPV4_PATTERN.test(v) || HOSTNAME_PATTERN.test(v), { error: (issue) => `${showValue(issue.input)} is not a valid address; expected ${ADDRESS_RULE}` }).optional(),
  publishAddress: patterned(IPV4_PATTERN, "IPv4 address", "an IPv4 address such as 127.0.0.1 or 0.0.0.0").optional(),
  pops: z.array(popSchema).min(1, { error: "has no POPs; expected at least one POP per region" }),
  datacenter: z.strictObject({
    ingressReplicas: integer(1, 16, "a replica count").default(1),
    apps: z.record(z.string(), z.strictObject({ replicas: integer(1, 64, "a replica count") })),
  }),
});

export const tenantSchema = z.strictObject({
  host: patterned(HOSTNAME_PATTERN, "hostname", HOSTNAME_RULE),
  region: name(),
});

/** Highest emulated round trip: beyond it a sideways hop would outlast sensible route timeouts. */
export const MAX_RTT_MS = 2000;

const wanSchema = z.strictObject({
  rttMs: z.record(z.string(), integer(0, MAX_RTT_MS, "a round-trip time in milliseconds")),
});

export const topologySchema = z.strictObject({
  project: patterned(/^[a-z](?:[a-z0-9-]{0,18}[a-z0-9])?$/, "project name", "lowercase letters, digits and '-' (1-20 chars, starting with a letter, not ending with '-')"),
  jwt: jwtSchema,
  apps: z.array(appSchema).min(1, { error: "is empty; expected at least one app" }),
  routing: routingSchema.prefault({}),
  timeouts: timeoutsSchema.prefault({}),
  ports: portsSchema.prefault({}),
  resources: resourcesSchema.prefault({}),
  tls: tlsSchema.prefault({}),
  regions: z.array(regionSchema).min(1, { error: "is empty; expected at least one region" }),
  tenants: z.array(tenantSchema).default([]),
  wan: wanSchema.optional(),
});

/** Sections parsed on their own so rules.ts can still check the valid parts of an invalid file. */
export const sectionSchemas = {
  project: topologySchema.shape.project,
  jwt: jwtSchema,
  app: appSchema,
  routing: routingSchema.prefault({}),
  timeouts: timeoutsSchema.prefault({}),
  ports: portsSchema.prefault({}),
  resources: resourcesSchema.prefault({}),
  tls: tlsSchema.prefault({}),
  region: regionSchema,
  tenant: tenantSchema,
  wan: wanSchema,
};

type Parsed = z.output<typeof topologySchema>;
// Compile-time guarantee that the schema produces exactly the model.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesModel: Same<Parsed, Topology> = true;
void schemaMatchesModel;
