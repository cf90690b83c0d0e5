import type { App, Ports, Region, Resources, Routing, Tenant, Timeouts, Topology, Wan } from "./model.ts";
import { DISCOVERY_CLUSTER, EDGE_HEALTH_PATH, GRPC_SERVICE_PATTERN, localCluster, peerCluster } from "./names.ts";
import { listContainers } from "./inventory.ts";
import { DEFAULTS, GRPC_PREFIX_RULE, NAME_PATTERN, PREFIX_PATTERN, sectionSchemas, showValue } from "./schema.ts";

/**
 * Checks beyond shape. They read the raw document plus every section and entry that parses on
 * its own, so one run reports the rule violations of the valid parts next to the shape errors.
 * A rule never reports a problem that only exists because another part is malformed.
 */

export interface Problem {
  /** Field path, e.g. `regions[1].pops[0].name`. */
  path: string;
  /** "<problem>; expected <what is valid>". */
  message: string;
}

type RawObject = Record<string, unknown>;

interface Entry<T> {
  index: number;
  raw: RawObject;
  valid: T | undefined;
}

export interface RuleView {
  project: string | undefined;
  routing: Routing | undefined;
  timeouts: Timeouts | undefined;
  ports: Ports | undefined;
  resources: Resources | undefined;
  apps: Entry<App>[];
  regions: Entry<Region>[];
  tenants: Entry<Tenant>[];
  wan: Wan | undefined;
}

/** Paths reserved by the edge itself; no app prefix may overlap them. */
export const RESERVED_PATHS = [EDGE_HEALTH_PATH];

/** Longest name Docker's embedded DNS resolves as one label. */
const MAX_CONTAINER_NAME = 63;

function isObject(value: unknown): value is RawObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function entries<T>(raw: RawObject, key: string, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }): Entry<T>[] {
  const list = raw[key];
  if (!Array.isArray(list)) return [];
  return list.flatMap((item, index) => {
    if (!isObject(item)) return [];
    const parsed = schema.safeParse(item);
    return [{ index, raw: item, valid: parsed.success ? parsed.data : undefined }];
  });
}

function section<T>(raw: RawObject, key: string, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }): T | undefined {
  const parsed = schema.safeParse(raw[key]);
  return parsed.success ? parsed.data : undefined;
}

export function viewOf(raw: unknown): RuleView {
  const doc = isObject(raw) ? raw : {};
  return {
    project: section(doc, "project", sectionSchemas.project),
    routing: section(doc, "routing", sectionSchemas.routing),
    timeouts: section(doc, "timeouts", sectionSchemas.timeouts),
    ports: section(doc, "ports", sectionSchemas.ports),
    resources: section(doc, "resources", sectionSchemas.resources),
    apps: entries(doc, "apps", sectionSchemas.app),
    regions: entries(doc, "regions", sectionSchemas.region),
    tenants: entries(doc, "tenants", sectionSchemas.tenant),
    wan: section(doc, "wan", sectionSchemas.wan),
  };
}

function stringField(raw: RawObject, key: string): string | undefined {
  const value = raw[key];
  return typeof value === "string" ? value : undefined;
}

function portField(raw: RawObject, key: string): number | undefined {
  const value = raw[key];
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65535 ? value : undefined;
}

function rawList(raw: RawObject, key: string): RawObject[] {
  const value = raw[key];
  return Array.isArray(value) ? value.filter(isObject) : [];
}

/** Reports every value after its first occurrence, naming where it was first used. */
function duplicates(items: { path: string; key: string; shown: string }[], what: string, expected: string): Problem[] {
  const first = new Map<string, string>();
  const problems: Problem[] = [];
  for (const item of items) {
    const earlier = first.get(item.key);
    if (earlier === undefined) first.set(item.key, item.path);
    else problems.push({ path: item.path, message: `${item.shown} is already used as ${what} at ${earlier}; expected ${expected}` });
  }
  return problems;
}

const regionNamesUnique = (view: RuleView): Problem[] =>
  duplicates(
    view.regions.flatMap(({ index, raw }) => {
      const name = stringField(raw, "name");
      return name === undefined ? [] : [{ path: `regions[${index}].name`, key: name, shown: showValue(name) }];
    }),
    "a region name",
    "a unique region name",
  );

const popNamesUniqueWithinRegion = (view: RuleView): Problem[] =>
  view.regions.flatMap(({ index, raw }) =>
    duplicates(
      rawList(raw, "pops").flatMap((pop, p) => {
        const name = stringField(pop, "name");
        return name === undefined ? [] : [{ path: `regions[${index}].pops[${p}].name`, key: name, shown: showValue(name) }];
      }),
      "a POP name in this region",
      "POP names unique within their region",
    ),
  );

const appNamesAndPrefixesUnique = (view: RuleView): Problem[] => [
  ...duplicates(
    view.apps.flatMap(({ index, raw }) => {
      const name = stringField(raw, "name");
      return name === undefined ? [] : [{ path: `apps[${index}].name`, key: name, shown: showValue(name) }];
    }),
    "an app name",
    "a unique app name",
  ),
  ...duplicates(
    view.apps.flatMap(({ index, raw }) => {
      const prefix = stringField(raw, "prefix");
      return prefix === undefined ? [] : [{ path: `apps[${index}].prefix`, key: prefix, shown: showValue(prefix) }];
    }),
    "a prefix",
    "a unique prefix per app",
  ),
];

/**
 * Envoy and the filter both match prefixes as plain string prefixes, so `/cat` also takes
 * `/catalog/...`: a prefix that starts another one makes the owner of a path depend on order.
 */
const prefixesNotNested = (view: RuleView): Problem[] => {
  const prefixes = view.apps.flatMap(({ index, raw }) => {
    const prefix = stringField(raw, "prefix");
    return prefix !== undefined && PREFIX_PATTERN.test(prefix) ? [{ index, prefix }] : [];
  });
  const problems: Problem[] = [];
  for (const a of prefixes) {
    for (const b of prefixes) {
      if (a.index !== b.index && a.prefix !== b.prefix && b.prefix.startsWith(a.prefix)) {
        problems.push({
          path: `apps[${b.index}].prefix`,
          message: `${showValue(b.prefix)} starts with the prefix ${showValue(a.prefix)} of apps[${a.index}]; expected prefixes where none starts another`,
        });
      }
    }
    for (const reserved of RESERVED_PATHS) {
      if (reserved.startsWith(a.prefix) || a.prefix.startsWith(reserved)) {
        problems.push({
          path: `apps[${a.index}].prefix`,
          message: `${showValue(a.prefix)} overlaps the edge's own path ${reserved}; expected a prefix outside ${reserved}`,
        });
      }
    }
  }
  return problems;
};

/**
 * A gRPC call's path is `/<service>/<method>`: the prefix of a gRPC app must be exactly one service,
 * or its routes would take no call (a deeper prefix) or calls of other services (a shorter one).
 */
const grpcPrefixIsAService = (view: RuleView): Problem[] =>
  view.apps.flatMap(({ index, valid }) =>
    valid?.protocol === "grpc" && !GRPC_SERVICE_PATTERN.test(valid.prefix.slice(1))
      ? [{ path: `apps[${index}].prefix`, message: `${showValue(valid.prefix)} is not a gRPC service path (the app has protocol: grpc); expected ${GRPC_PREFIX_RULE}` }]
      : [],
  );

const datacenterListsExactlyTheApps = (view: RuleView): Problem[] => {
  const appNames = view.apps.map(({ raw }) => stringField(raw, "name"));
  if (appNames.length === 0 || appNames.some((name) => name === undefined)) return [];
  const known = new Set(appNames as string[]);
  const expected = [...known].join(", ");
  return view.regions.flatMap(({ index, raw }) => {
    const datacenter = raw.datacenter;
    if (!isObject(datacenter) || !isObject(datacenter.apps)) return [];
    const listed = Object.keys(datacenter.apps);
    return [
      ...listed
        .filter((name) => !known.has(name))
        .map((name) => ({
          path: `regions[${index}].datacenter.apps.${name}`,
          message: `${showValue(name)} is not an app of the topology; expected only apps listed under apps: ${expected}`,
        })),
      ...[...known]
        .filter((name) => !listed.includes(name))
        .map((name) => ({
          path: `regions[${index}].datacenter.apps`,
          message: `app ${showValue(name)} is missing; expected every app of the topology with replicas >= 1: ${expected}`,
        })),
    ];
  });
};

function regionNameSet(view: RuleView): Set<string> | undefined {
  const names = view.regions.map(({ raw }) => stringField(raw, "name"));
  if (names.length === 0 || names.some((name) => name === undefined)) return undefined;
  return new Set(names as string[]);
}

const referencedRegionsExist = (view: RuleView): Problem[] => {
  const regions = regionNameSet(view);
  if (!regions) return [];
  const expected = `one of the regions: ${[...regions].join(", ")}`;
  const problems: Problem[] = view.tenants.flatMap(({ index, raw }) => {
    const region = stringField(raw, "region");
    return region === undefined || regions.has(region)
      ? []
      : [{ path: `tenants[${index}].region`, message: `${showValue(region)} is not a region of the topology; expected ${expected}` }];
  });
  const fallback = view.routing?.fallback;
  if (fallback?.policy === "region" && !regions.has(fallback.region)) {
    problems.push({
      path: "routing.fallback.region",
      message: `${showValue(fallback.region)} is not a region of the topology; expected ${expected}`,
    });
  }
  for (const app of view.apps) {
    for (const entry of failoverEntries(app)) {
      if (!regions.has(entry.region)) {
        problems.push({ path: entry.path, message: `${showValue(entry.region)} is not a region of the topology; expected ${expected}` });
      }
    }
  }
  return problems;
};

/**
 * The region names an app's `placement.failover` list holds, each with its path; none for the other
 * forms. Entries that are not names have their own shape problem and are left out.
 */
function failoverEntries({ index, raw }: Entry<App>): { path: string; region: string }[] {
  const placement = raw.placement;
  if (!isObject(placement) || !Array.isArray(placement.failover)) return [];
  return placement.failover.flatMap((region, j) =>
    typeof region === "string" && NAME_PATTERN.test(region) ? [{ path: `apps[${index}].placement.failover[${j}]`, region }] : [],
  );
}

const failoverRegionsUnique = (view: RuleView): Problem[] =>
  view.apps.flatMap((app) =>
    duplicates(
      failoverEntries(app).map(({ path, region }) => ({ path, key: region, shown: showValue(region) })),
      "a failover region of this app",
      "each region at most once in a failover list",
    ),
  );

/** Jurisdiction of each region whose name and jurisdiction are valid; none when region names repeat. */
function jurisdictionsByRegion(view: RuleView): Map<string, string> {
  const byRegion = new Map<string, string>();
  if (regionNamesUnique(view).length > 0) return byRegion;
  for (const { raw } of view.regions) {
    const name = stringField(raw, "name");
    const jurisdiction = stringField(raw, "jurisdiction");
    if (name !== undefined && jurisdiction !== undefined && NAME_PATTERN.test(jurisdiction)) byRegion.set(name, jurisdiction);
  }
  return byRegion;
}

/**
 * A residency-bound app never serves a request outside its owner's jurisdiction, and its failover
 * list applies to every owner: a list naming regions of two jurisdictions reads as a failover
 * chain across them that no owner could ever take, so it is an error at each entry outside the
 * jurisdiction of the list's first entry.
 *
 * A list of one jurisdiction is valid although only owners in that jurisdiction can use it: for an
 * owner elsewhere every entry is filtered out and the app is owner-only there (see `servingOrder`),
 * which is exactly what residency says. Rejecting it would allow explicit lists only in topologies
 * of one jurisdiction; `same-jurisdiction` (or `any`) gives every owner its own jurisdiction's regions.
 */
const residencyFailoverInOneJurisdiction = (view: RuleView): Problem[] => {
  const jurisdictions = jurisdictionsByRegion(view);
  return view.apps.flatMap((app) => {
    if (app.raw.residency !== "jurisdiction") return [];
    const known = failoverEntries(app).flatMap((entry) => {
      const jurisdiction = jurisdictions.get(entry.region);
      return jurisdiction === undefined ? [] : [{ ...entry, jurisdiction }];
    });
    const [first] = known;
    if (!first) return [];
    return known
      .filter((entry) => entry.jurisdiction !== first.jurisdiction)
      .map((entry) => ({
        path: entry.path,
        message:
          `${showValue(entry.region)} is in jurisdiction ${entry.jurisdiction} while ${first.path} (${showValue(first.region)}) is in ${first.jurisdiction}, ` +
          `and the app is residency-bound (residency: jurisdiction): no request leaves its owner's jurisdiction, so no owner could fail over to both; ` +
          `expected failover regions of jurisdiction ${first.jurisdiction} only (or failover: same-jurisdiction)`,
      }));
  });
};

const precedenceSourcesUnique = (view: RuleView): Problem[] =>
  duplicates(
    (view.routing?.precedence ?? []).map((source, index) => ({ path: `routing.precedence[${index}]`, key: source, shown: showValue(source) })),
    "an identity source",
    "each of jwt and tenant at most once in routing.precedence",
  );

const tenantHostsUnique = (view: RuleView): Problem[] =>
  duplicates(
    view.tenants.flatMap(({ index, raw }) => {
      const host = stringField(raw, "host");
      return host === undefined ? [] : [{ path: `tenants[${index}].host`, key: host.toLowerCase(), shown: showValue(host) }];
    }),
    "a tenant host",
    "each host to belong to exactly one tenant",
  );

/**
 * Peers on another Docker host reach a region only through its published backbone port, and a
 * region on the local daemon has no address that a remote host could use: so either no region
 * names a Docker host, or every region does.
 */
const dockerHostsComplete = (view: RuleView): Problem[] => {
  const problems: Problem[] = [];
  const withHost = view.regions.filter(({ raw }) => raw.dockerHost !== undefined);
  for (const { index, raw } of withHost) {
    if (raw.backbonePort === undefined) {
      problems.push({
        path: `regions[${index}].backbonePort`,
        message: `is missing while dockerHost is set; expected the first host port for this region's backbone listeners (POP i publishes on backbonePort + i)`,
      });
    }
    if (raw.backboneAddress === undefined) {
      problems.push({
        path: `regions[${index}].backboneAddress`,
        message: `is missing while dockerHost is set; expected the address on that host where peers on other hosts reach its backbone ports`,
      });
    }
  }
  for (const { index, raw } of view.regions) {
    for (const field of ["backboneAddress", "publishAddress"] as const) {
      if (raw[field] !== undefined && raw.dockerHost === undefined) {
        problems.push({ path: `regions[${index}].${field}`, message: `${showValue(raw[field])} is set without dockerHost; expected ${field} only together with dockerHost` });
      }
    }
  }
  if (withHost.length > 0) {
    const example = `regions[${withHost[0]!.index}]`;
    for (const { index, raw } of view.regions) {
      if (raw.dockerHost === undefined) {
        problems.push({
          path: `regions[${index}].dockerHost`,
          message: `is missing while ${example} sets one; expected a Docker host for every region once any region sets one (ssh://... or tcp://...)`,
        });
      }
    }
  }
  for (const { index, raw } of view.regions) {
    if (raw.backbonePort !== undefined && raw.dockerHost === undefined && withHost.length === 0) {
      problems.push({
        path: `regions[${index}].backbonePort`,
        message: `${showValue(raw.backbonePort)} is set without dockerHost; expected backbonePort only together with dockerHost`,
      });
    }
  }
  return problems;
};

/** WAN pairs name two different known regions, each pair once in either order. */
const wanPairsValid = (view: RuleView): Problem[] => {
  const names = regionNameSet(view);
  if (!view.wan || !names) return [];
  const problems: Problem[] = [];
  const seen = new Map<string, string>();
  for (const key of Object.keys(view.wan.rttMs)) {
    const path = `wan.rttMs[${JSON.stringify(key)}]`;
    const pair = key.split("/");
    if (pair.length !== 2 || pair[0] === pair[1]) {
      problems.push({ path, message: `is not a pair of two different regions; expected <region>/<region>, e.g. ${[...names].slice(0, 2).join("/")}` });
      continue;
    }
    const unknown = pair.filter((region) => !names.has(region));
    if (unknown.length > 0) {
      problems.push({ path, message: `names unknown region(s) ${unknown.join(", ")}; expected regions from ${[...names].join(", ")}` });
      continue;
    }
    const canonical = [...pair].sort().join("/");
    const earlier = seen.get(canonical);
    if (earlier !== undefined) problems.push({ path, message: `is the same pair as wan.rttMs[${JSON.stringify(earlier)}]; expected each pair of regions once` });
    else seen.set(canonical, key);
  }
  return problems;
};

const hostPortsDistinct = (view: RuleView): Problem[] => {
  const claims: { path: string; key: string; shown: string }[] = [];
  for (const { index, raw } of view.regions) {
    const pops = rawList(raw, "pops");
    pops.forEach((pop, p) => {
      for (const field of ["clientPort", "statsPort", "tlsPort"]) {
        const port = portField(pop, field);
        if (port !== undefined) claims.push({ path: `regions[${index}].pops[${p}].${field}`, key: String(port), shown: String(port) });
      }
    });
    const backbone = portField(raw, "backbonePort");
    if (backbone !== undefined) {
      pops.forEach((_, p) => {
        const port = backbone + p;
        const path = p === 0 ? `regions[${index}].backbonePort` : `regions[${index}].backbonePort (+${p} for pops[${p}])`;
        if (port > 65535) {
          claims.push({ path, key: `overflow-${index}-${p}`, shown: String(port) });
        } else {
          claims.push({ path, key: String(port), shown: String(port) });
        }
      });
    }
  }
  const overflow: Problem[] = claims
    .filter((claim) => claim.key.startsWith("overflow"))
    .map((claim) => ({ path: claim.path, message: `${claim.shown} is out of range; expected backbonePort + (POP count - 1) <= 65535` }));
  return [
    ...overflow,
    ...duplicates(
      claims.filter((claim) => !claim.key.startsWith("overflow")),
      "a published host port",
      "every published host port (clientPort, statsPort, tlsPort, backbonePort + i) to be distinct across the topology",
    ),
  ];
};

/** Ports that listen inside one container must differ; admin and stats run in every Envoy. */
const containerPortsDistinct = (view: RuleView): Problem[] => {
  const ports = view.ports;
  if (!ports) return [];
  const groups: { container: string; fields: (keyof Ports)[] }[] = [
    { container: "a POP", fields: ["popClient", "popClientTls", "popBackbone", "envoyAdmin", "envoyStats"] },
    { container: "an ingress", fields: ["ingress", "envoyAdmin", "envoyStats"] },
  ];
  const reported = new Set<string>();
  const problems: Problem[] = [];
  for (const { container, fields } of groups) {
    const seen = new Map<number, keyof Ports>();
    for (const field of fields) {
      const earlier = seen.get(ports[field]);
      if (earlier === undefined) {
        seen.set(ports[field], field);
      } else if (!reported.has(`${earlier}/${field}`)) {
        reported.add(`${earlier}/${field}`);
        problems.push({
          path: `ports.${field}`,
          message: `${ports[field]} is also ports.${earlier} and both listen in ${container} container; expected distinct ports for ${fields.join(", ")}`,
        });
      }
    }
  }
  return problems;
};

/** Every downstream connection may need an upstream one, plus files and sockets of Envoy itself. */
export function maxGlobalConnections(nofile: number): number {
  return Math.floor(nofile / 2);
}

const connectionLimitsFit = (view: RuleView): Problem[] => {
  const resources = view.resources;
  if (!resources) return [];
  const { perListener, global } = resources.connections;
  const problems: Problem[] = [];
  if (perListener > global) {
    problems.push({
      path: "resources.connections.perListener",
      message: `${perListener} exceeds resources.connections.global (${global}); expected at most the global limit`,
    });
  }
  if (global > maxGlobalConnections(resources.nofile)) {
    problems.push({
      path: "resources.connections.global",
      message: `${global} leaves too few file descriptors under resources.nofile (${resources.nofile}); expected at most nofile / 2 (${maxGlobalConnections(resources.nofile)})`,
    });
  }
  return problems;
};

const discoveryTimeoutBelowRouteTimeout = (view: RuleView): Problem[] => {
  if (!view.routing || !view.timeouts) return [];
  const discovery = view.routing.discovery.timeoutMs;
  const route = view.timeouts.routeMs;
  return discovery < route
    ? []
    : [{
        path: "routing.discovery.timeoutMs",
        message: `${discovery} is not below timeouts.routeMs (${route}); expected a discovery lookup shorter than the route timeout`,
      }];
};

/** The full model, when every part parsed; rules on derived names need all of it. */
function completeTopology(view: RuleView): Topology | undefined {
  const apps = view.apps.map((entry) => entry.valid);
  const regions = view.regions.map((entry) => entry.valid);
  const tenants = view.tenants.map((entry) => entry.valid);
  if (view.project === undefined || !view.routing || !view.timeouts || !view.ports || !view.resources) return undefined;
  if (apps.some((app) => !app) || regions.some((region) => !region) || tenants.some((tenant) => !tenant)) return undefined;
  return {
    project: view.project,
    jwt: { issuer: "", audiences: [], regionClaim: DEFAULTS.regionClaim, maxTokenTtlSeconds: DEFAULTS.maxTokenTtlSeconds },
    apps: apps as App[],
    routing: view.routing,
    timeouts: view.timeouts,
    ports: view.ports,
    resources: view.resources,
    tls: DEFAULTS.tls,
    regions: regions as Region[],
    tenants: tenants as Tenant[],
  };
}

/** Duplicate names already have their own problem; every name derived from them would repeat it. */
function hasDuplicateNames(view: RuleView): boolean {
  return regionNamesUnique(view).length + popNamesUniqueWithinRegion(view).length + appNamesAndPrefixesUnique(view).length > 0;
}

const containerNamesUsable = (view: RuleView): Problem[] => {
  const topology = completeTopology(view);
  if (!topology || hasDuplicateNames(view)) return [];
  const containers = listContainers(topology);
  const tooLong = containers
    .filter((container) => container.name.length > MAX_CONTAINER_NAME)
    .map((container) => ({
      path: container.owner,
      message: `gives the container name ${JSON.stringify(container.name)} of ${container.name.length} chars; expected derived container names of at most ${MAX_CONTAINER_NAME} chars (shorten the project, region, POP or app name)`,
    }));
  const clashes = duplicates(
    containers.map((container) => ({ path: container.owner, key: container.name, shown: `the container name ${showValue(container.name)}` })),
    "a container name",
    "names that derive distinct container names",
  ).map((problem) => ({ ...problem, message: `gives ${problem.message}` }));
  return [...tooLong, ...clashes];
};

/** Every cluster the filter can name in a POP must be one cluster, distinct from `discovery`. */
const popClusterNamesDistinct = (view: RuleView): Problem[] => {
  const topology = completeTopology(view);
  if (!topology || hasDuplicateNames(view)) return [];
  return topology.regions.flatMap((region, r) => {
    const clusters = [
      ...topology.apps.map((app, a) => ({ path: `apps[${a}].name`, name: localCluster(app.name, region.name) })),
      ...topology.regions
        .map((peer, p) => ({ peer, p }))
        .filter(({ peer }) => peer.name !== region.name)
        .map(({ peer, p }) => ({ path: `regions[${p}].name`, name: peerCluster(peer.name) })),
      { path: "(built-in)", name: DISCOVERY_CLUSTER },
    ];
    return duplicates(
      clusters.map((cluster) => ({ path: cluster.path, key: cluster.name, shown: `the Envoy cluster name ${showValue(cluster.name)}` })),
      `a cluster name in the POPs of regions[${r}] (${region.name})`,
      "app and region names whose derived cluster names (<app>-<region>, edge-router-<region>, discovery) differ",
    ).map((problem) => ({ ...problem, message: `gives ${problem.message}` }));
  });
};

export const rules: ReadonlyArray<(view: RuleView) => Problem[]> = [
  regionNamesUnique,
  popNamesUniqueWithinRegion,
  appNamesAndPrefixesUnique,
  prefixesNotNested,
  grpcPrefixIsAService,
  datacenterListsExactlyTheApps,
  referencedRegionsExist,
  failoverRegionsUnique,
  residencyFailoverInOneJurisdiction,
  precedenceSourcesUnique,
  tenantHostsUnique,
  dockerHostsComplete,
  wanPairsValid,
  hostPortsDistinct,
  containerPortsDistinct,
  connectionLimitsFit,
  discoveryTimeoutBelowRouteTimeout,
  containerNamesUsable,
  popClusterNamesDistinct,
];

export function checkRules(raw: unknown): Problem[] {
  const view = viewOf(raw);
  return rules.flatMap((rule) => rule(view));
}
