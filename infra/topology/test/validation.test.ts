import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validateTopology } from "../load.ts";
import { assertOnlyProblem, problemsOf, validRaw, withRegion } from "./fixtures.ts";

// Each invariant: the fixture passes, one targeted change breaks it, and the single problem
// names the field path, the bad value and what would be valid.

describe("topology validation", () => {
  it("Fixture: the unchanged fixture is valid", () => {
    assert.deepEqual(problemsOf(validRaw()), []);
  });

  it("Name: POP names are lowercase letters, digits and '-'", () => {
    const valid = validRaw();
    valid.regions[1].pops[0].name = "edge-7";
    assert.deepEqual(problemsOf(valid), []);
    const invalid = validRaw();
    invalid.regions[1].pops[0].name = "Pop A";
    assertOnlyProblem(
      invalid,
      "regions[1].pops[0].name",
      `"Pop A" is not a valid name; expected lowercase letters, digits and '-' (1-40 chars, starting with a letter`,
    );
  });

  it("Name: a name may not end with '-' or start with a digit", () => {
    const trailing = validRaw();
    trailing.regions[0].pops[1].name = "p2-";
    assertOnlyProblem(trailing, "regions[0].pops[1].name", `"p2-" is not a valid name`);
    const digit = validRaw();
    digit.regions[1].pops[0].name = "1st";
    assertOnlyProblem(digit, "regions[1].pops[0].name", `"1st" is not a valid name`);
  });

  it("Region: names are unique", () => {
    const invalid = validRaw();
    invalid.regions[1].name = "north";
    invalid.tenants[1].region = "north";
    assertOnlyProblem(invalid, "regions[1].name", `"north" is already used as a region name at regions[0].name`, "expected a unique region name");
  });

  it("Region: has at least one POP", () => {
    const invalid = validRaw();
    invalid.regions[1].pops = [];
    assertOnlyProblem(invalid, "regions[1].pops", "expected at least one POP per region");
  });

  it("POP: names are unique within a region, not across regions", () => {
    const acrossRegions = validRaw();
    assert.equal(acrossRegions.regions[0].pops[0].name, acrossRegions.regions[1].pops[0].name);
    assert.deepEqual(problemsOf(acrossRegions), []);
    const invalid = validRaw();
    invalid.regions[0].pops[1].name = "p1";
    assertOnlyProblem(invalid, "regions[0].pops[1].name", `"p1" is already used as a POP name in this region at regions[0].pops[0].name`);
  });

  it("App: names are unique", () => {
    const invalid = validRaw();
    invalid.apps.push({ name: "cart", prefix: "/basket" });
    assertOnlyProblem(invalid, "apps[2].name", `"cart" is already used as an app name at apps[0].name`);
  });

  it("App: prefixes are unique", () => {
    const invalid = validRaw();
    invalid.apps[1].prefix = "/cart";
    assertOnlyProblem(invalid, "apps[1].prefix", `"/cart" is already used as a prefix at apps[0].prefix`);
  });

  it("App: a prefix starts with '/' and has no trailing '/'", () => {
    const valid = validRaw();
    valid.apps[1].prefix = "/v2/search";
    assert.deepEqual(problemsOf(valid), []);
    for (const bad of ["search", "/search/", "/", "/se arch"]) {
      const invalid = validRaw();
      invalid.apps[1].prefix = bad;
      assertOnlyProblem(invalid, "apps[1].prefix", `${JSON.stringify(bad)} is not a valid path prefix`, "expected '/' followed by path segments");
    }
  });

  it("App: no prefix starts another prefix", () => {
    const sibling = validRaw();
    sibling.apps[1].prefix = "/cart-v2";
    const problems = problemsOf(sibling);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^apps\[1\]\.prefix: "\/cart-v2" starts with the prefix "\/cart" of apps\[0\]; expected prefixes where none starts another$/);
    const nested = validRaw();
    nested.apps[0].prefix = "/search/cart";
    assertOnlyProblem(nested, "apps[0].prefix", `"/search/cart" starts with the prefix "/search" of apps[1]`);
  });

  it("App: no prefix overlaps the edge's own health path", () => {
    const invalid = validRaw();
    invalid.apps[0].prefix = "/edge";
    assertOnlyProblem(invalid, "apps[0].prefix", `"/edge" overlaps the edge's own path /edge/healthz`);
  });

  it("Datacenter: lists exactly the global apps", () => {
    const missing = validRaw();
    delete missing.regions[1].datacenter.apps.search;
    assertOnlyProblem(missing, "regions[1].datacenter.apps", `app "search" is missing`, "expected every app of the topology");
    const extra = validRaw();
    extra.regions[0].datacenter.apps.billing = { replicas: 1 };
    assertOnlyProblem(extra, "regions[0].datacenter.apps.billing", `"billing" is not an app of the topology`, "cart, search");
  });

  it("Datacenter: every app has at least one replica", () => {
    const invalid = validRaw();
    invalid.regions[0].datacenter.apps.cart.replicas = 0;
    assertOnlyProblem(invalid, "regions[0].datacenter.apps.cart.replicas", "0 is out of range", "an integer from 1 to 64");
  });

  it("Region: a jurisdiction is required and is a name", () => {
    const valid = validRaw();
    valid.regions[1].jurisdiction = "eu";
    assert.deepEqual(problemsOf(valid), []);
    const missing = validRaw();
    delete missing.regions[1].jurisdiction;
    assertOnlyProblem(
      missing,
      "regions[1].jurisdiction",
      "is missing; expected a jurisdiction name such as us, eu or apac",
      "lowercase letters, digits and '-' (1-40 chars",
    );
    const invalid = validRaw();
    invalid.regions[0].jurisdiction = "EU";
    assertOnlyProblem(invalid, "regions[0].jurisdiction", `"EU" is not a valid jurisdiction name; expected a jurisdiction name such as us, eu or apac`);
  });

  it("Placement: owner-only, a failover list, same-jurisdiction and any are each valid", () => {
    for (const placement of ["owner-only", { failover: ["south"] }, { failover: ["south", "north"] }, { failover: "same-jurisdiction" }, { failover: "any" }]) {
      const raw = validRaw();
      raw.apps[0].placement = placement;
      assert.deepEqual(problemsOf(raw), [], JSON.stringify(placement));
      assert.deepEqual(validateTopology(raw).apps[0]!.placement, placement);
    }
  });

  it("Placement: any other value is rejected with the valid forms listed", () => {
    const forms = "expected owner-only, { failover: [<region name>, ...] }, { failover: same-jurisdiction } or { failover: any }";
    const cases: Array<[unknown, string]> = [
      ["strict", `"strict" is not a placement; ${forms}`],
      [{ failover: "nearest" }, `failover "nearest" is not a list of region names, same-jurisdiction or any; ${forms}`],
      [{ regions: ["south"] }, `{"regions":["south"]} is not a placement; ${forms}`],
    ];
    for (const [placement, message] of cases) {
      const invalid = validRaw();
      invalid.apps[0].placement = placement;
      assertOnlyProblem(invalid, "apps[0].placement", message);
    }
    const empty = validRaw();
    empty.apps[0].placement = { failover: [] };
    assertOnlyProblem(empty, "apps[0].placement.failover", "is empty; expected at least one region name (or placement: owner-only for no failover)");
    const extra = validRaw();
    extra.apps[0].placement = { failover: "any", order: "nearest" };
    assertOnlyProblem(extra, "apps[0].placement.order", "unknown field; expected one of failover");
  });

  it("Placement: every region of a failover list exists, and a malformed one is reported once", () => {
    const unknown = validRaw();
    unknown.apps[1].placement = { failover: ["south", "west"] };
    assertOnlyProblem(unknown, "apps[1].placement.failover[1]", `"west" is not a region of the topology; expected one of the regions: north, south`);
    const malformed = validRaw();
    malformed.apps[1].placement = { failover: ["South"] };
    assertOnlyProblem(malformed, "apps[1].placement.failover[0]", `"South" is not a valid name; expected lowercase letters`);
  });

  it("Placement: a failover list names a region at most once", () => {
    const invalid = validRaw();
    invalid.apps[0].placement = { failover: ["south", "north", "south"] };
    assertOnlyProblem(
      invalid,
      "apps[0].placement.failover[2]",
      `"south" is already used as a failover region of this app at apps[0].placement.failover[0]; expected each region at most once in a failover list`,
    );
  });

  it("Residency: none or jurisdiction, default none", () => {
    const valid = validRaw();
    valid.apps[0].residency = "jurisdiction";
    assert.deepEqual(problemsOf(valid), []);
    assert.deepEqual(validateTopology(validRaw()).apps.map((app) => app.residency), ["none", "none"]);
    const invalid = validRaw();
    invalid.apps[0].residency = "strict";
    assertOnlyProblem(invalid, "apps[0].residency", `"strict" is not a residency; expected none or jurisdiction`);
  });

  it("Residency: a residency-bound app's failover list names regions of one jurisdiction", () => {
    // north and west are in eu, south in us.
    const raw = () => withRegion(validRaw(), "west", "eu");
    const mixed = raw();
    mixed.apps[1].residency = "jurisdiction";
    mixed.apps[1].placement = { failover: ["west", "south"] };
    assertOnlyProblem(
      mixed,
      "apps[1].placement.failover[1]",
      `"south" is in jurisdiction us while apps[1].placement.failover[0] ("west") is in eu`,
      "the app is residency-bound (residency: jurisdiction): no request leaves its owner's jurisdiction, so no owner could fail over to both",
      "expected failover regions of jurisdiction eu only (or failover: same-jurisdiction)",
    );
    const unbound = raw();
    unbound.apps[1].placement = { failover: ["west", "south"] };
    assert.deepEqual(problemsOf(unbound), [], "without residency a list may cross jurisdictions");
    // One jurisdiction is valid although only its own owners can use it: owners in us get owner-only (see serving-order.test.ts).
    const oneJurisdiction = raw();
    oneJurisdiction.apps[1].residency = "jurisdiction";
    oneJurisdiction.apps[1].placement = { failover: ["west", "north"] };
    assert.deepEqual(problemsOf(oneJurisdiction), []);
    const unknownEntry = raw();
    unknownEntry.apps[1].residency = "jurisdiction";
    unknownEntry.apps[1].placement = { failover: ["west", "east"] };
    assertOnlyProblem(unknownEntry, "apps[1].placement.failover[1]", `"east" is not a region of the topology`);
  });

  it("Residency: a residency-bound app may fail over to same-jurisdiction or any", () => {
    for (const failover of ["same-jurisdiction", "any"]) {
      const valid = validRaw();
      valid.apps[0].residency = "jurisdiction";
      valid.apps[0].placement = { failover };
      assert.deepEqual(problemsOf(valid), [], failover);
    }
  });

  it("Protocol: http or grpc, default http", () => {
    assert.deepEqual(validateTopology(validRaw()).apps.map((app) => app.protocol), ["http", "http"]);
    const invalid = validRaw();
    invalid.apps[0].protocol = "grpc-web";
    assertOnlyProblem(invalid, "apps[0].protocol", `"grpc-web" is not an app protocol; expected http or grpc`);
  });

  it("Protocol: a gRPC app's prefix is one fully-qualified service, e.g. /edgerim.profile.v1.Profile", () => {
    // A single identifier is a service name too (a proto without a package).
    for (const prefix of ["/edgerim.profile.v1.Profile", "/Greeter", "/a_b.C9", "/search"]) {
      const valid = validRaw();
      valid.apps[1] = { name: "search", prefix, protocol: "grpc" };
      assert.deepEqual(problemsOf(valid), [], prefix);
    }
    for (const prefix of ["/edgerim.profile.v1.Profile/Get", "/edgerim..Profile", "/9lives.Service", "/a-b.Service"]) {
      const invalid = validRaw();
      invalid.apps[1] = { name: "search", prefix, protocol: "grpc" };
      assertOnlyProblem(
        invalid,
        "apps[1].prefix",
        `${JSON.stringify(prefix)} is not a gRPC service path (the app has protocol: grpc)`,
        "expected '/' and the fully-qualified service name (proto identifiers joined by '.'), e.g. /edgerim.profile.v1.Profile",
      );
    }
    const http = validRaw();
    http.apps[1].prefix = "/search/v1";
    assert.deepEqual(problemsOf(http), [], "an http app's prefix may have several segments");
  });

  it("Routing: precedence lists jwt and tenant, each at most once, in any order", () => {
    for (const precedence of [["jwt"], ["tenant"], ["tenant", "jwt"], ["jwt", "tenant"]]) {
      const valid = validRaw();
      valid.routing = { precedence };
      assert.deepEqual(validateTopology(valid).routing.precedence, precedence);
    }
    const repeated = validRaw();
    repeated.routing = { precedence: ["jwt", "tenant", "jwt"] };
    assertOnlyProblem(
      repeated,
      "routing.precedence[2]",
      `"jwt" is already used as an identity source at routing.precedence[0]; expected each of jwt and tenant at most once in routing.precedence`,
    );
    const empty = validRaw();
    empty.routing = { precedence: [] };
    assertOnlyProblem(empty, "routing.precedence", "is empty; expected a list of jwt and tenant, each at most once");
    const unknown = validRaw();
    unknown.routing = { precedence: ["jwt", "cookie"] };
    assertOnlyProblem(unknown, "routing.precedence[1]", `"cookie" is not an identity source; expected jwt or tenant`);
  });

  it("Routing: the conflict policy is prefer-first or reject", () => {
    const valid = validRaw();
    valid.routing = { conflict: "reject" };
    assert.equal(validateTopology(valid).routing.conflict, "reject");
    const invalid = validRaw();
    invalid.routing = { conflict: "merge" };
    assertOnlyProblem(invalid, "routing.conflict", `"merge" is not a conflict policy; expected prefer-first or reject`);
  });

  it("Tenant: its region exists", () => {
    const invalid = validRaw();
    invalid.tenants[1].region = "west";
    assertOnlyProblem(invalid, "tenants[1].region", `"west" is not a region of the topology; expected one of the regions: north, south`);
  });

  it("Tenant: hosts are valid lowercase hostnames without port", () => {
    for (const bad of ["Alpha.shop.test", "alpha.shop.test:8080", "-alpha.shop.test", "alpha..test"]) {
      const invalid = validRaw();
      invalid.tenants[0].host = bad;
      assertOnlyProblem(invalid, "tenants[0].host", `${JSON.stringify(bad)} is not a valid hostname`, "expected a lowercase DNS hostname");
    }
  });

  it("Tenant: hosts are unique", () => {
    const invalid = validRaw();
    invalid.tenants[1].host = "alpha.shop.test";
    assertOnlyProblem(invalid, "tenants[1].host", `"alpha.shop.test" is already used as a tenant host at tenants[0].host`);
  });

  it("Routing: the fallback region exists", () => {
    const valid = validRaw();
    valid.routing = { fallback: { policy: "region", region: "south" } };
    assert.deepEqual(problemsOf(valid), []);
    const invalid = validRaw();
    invalid.routing = { fallback: { policy: "region", region: "west" } };
    assertOnlyProblem(invalid, "routing.fallback.region", `"west" is not a region of the topology`);
  });

  it("Routing: the fallback policy is reject or region", () => {
    const invalid = validRaw();
    invalid.routing = { fallback: { policy: "nearest" } };
    assertOnlyProblem(invalid, "routing.fallback.policy", `"nearest" is not a fallback policy; expected { policy: reject } or { policy: region`);
  });

  it("Routing: maxHops is at least 1", () => {
    const invalid = validRaw();
    invalid.routing = { maxHops: 0 };
    assertOnlyProblem(invalid, "routing.maxHops", "0 is out of range; expected a hop count, an integer from 1 to 8");
  });

  it("Routing: the discovery timeout is below the route timeout", () => {
    const invalid = validRaw();
    invalid.routing = { discovery: { timeoutMs: 20_000 } };
    assertOnlyProblem(invalid, "routing.discovery.timeoutMs", "20000 is not below timeouts.routeMs (15000)");
  });

  it("TLS: a POP's tlsPort is required and clashes like any published port; tls settings are checked", () => {
    const missing = validRaw();
    delete missing.regions[0].pops[0].tlsPort;
    assert.ok(problemsOf(missing).some((p) => p.startsWith("regions[0].pops[0].tlsPort")), problemsOf(missing).join("; "));
    const clash = validRaw();
    clash.regions[1].pops[0].tlsPort = 28001;
    assertOnlyProblem(clash, "regions[1].pops[0].tlsPort", "28001 is already used as a published host port at regions[0].pops[0].clientPort");
    const redirect = validRaw();
    redirect.tls = { redirectCleartext: "yes" };
    assertOnlyProblem(redirect, "tls.redirectCleartext", '"yes" is not true or false; expected a boolean');
    const domain = validRaw();
    domain.tls = { domain: "not a domain" };
    assert.ok(problemsOf(domain).some((p) => p.startsWith("tls.domain")), problemsOf(domain).join("; "));
    const samePort = validRaw();
    samePort.ports = { popClientTls: 8443 };
    assert.ok(problemsOf(samePort).some((p) => p.includes("popClientTls") || p.includes("popBackbone")), problemsOf(samePort).join("; "));
  });

  it("Ports: published host ports do not clash across the topology", () => {
    const acrossRegions = validRaw();
    acrossRegions.regions[1].pops[0].statsPort = 28001;
    assertOnlyProblem(acrossRegions, "regions[1].pops[0].statsPort", "28001 is already used as a published host port at regions[0].pops[0].clientPort");
    const withinPop = validRaw();
    withinPop.regions[0].pops[1].statsPort = 28002;
    assertOnlyProblem(withinPop, "regions[0].pops[1].statsPort", "28002 is already used as a published host port at regions[0].pops[1].clientPort");
  });

  it("Ports: ports are in 1..65535", () => {
    const zero = validRaw();
    zero.regions[0].pops[0].clientPort = 0;
    assertOnlyProblem(zero, "regions[0].pops[0].clientPort", "0 is out of range; expected a port, an integer from 1 to 65535");
    const large = validRaw();
    large.ports = { envoyStats: 70000 };
    assertOnlyProblem(large, "ports.envoyStats", "70000 is out of range");
    const fraction = validRaw();
    fraction.regions[1].pops[0].statsPort = 29011.5;
    assertOnlyProblem(fraction, "regions[1].pops[0].statsPort", "29011.5 is not an integer");
  });

  it("Ports: ports sharing a container differ", () => {
    const valid = validRaw();
    // App and discovery containers run one listener each; sharing a number with the POP is fine.
    valid.ports = { popClient: 8080, ingress: 8080, app: 8080, discovery: 8080 };
    assert.deepEqual(problemsOf(valid), []);
    const pop = validRaw();
    pop.ports = { popBackbone: 8080 };
    assertOnlyProblem(pop, "ports.popBackbone", "8080 is also ports.popClient and both listen in a POP container");
    const ingress = validRaw();
    ingress.ports = { ingress: 9902 };
    assertOnlyProblem(ingress, "ports.envoyStats", "9902 is also ports.ingress and both listen in an ingress container");
  });

  it("Region: dockerHost needs backbonePort and backboneAddress, and once one region sets dockerHost every region does", () => {
    const valid = validRaw();
    valid.regions[0].dockerHost = "ssh://deploy@north.hosts.test";
    valid.regions[0].backbonePort = 28500;
    valid.regions[0].backboneAddress = "north.hosts.test";
    valid.regions[1].dockerHost = "tcp://10.0.0.7:2376";
    valid.regions[1].backbonePort = 28600;
    valid.regions[1].backboneAddress = "10.0.0.7";
    valid.regions[1].publishAddress = "0.0.0.0";
    assert.deepEqual(problemsOf(valid), []);
    const noAddress = structuredClone(valid);
    delete noAddress.regions[0].backboneAddress;
    assertOnlyProblem(noAddress, "regions[0].backboneAddress", "is missing while dockerHost is set; expected the address on that host where peers on other hosts reach its backbone ports");
    const badAddress = structuredClone(valid);
    badAddress.regions[1].backboneAddress = "10.0.0.7:28600";
    assertOnlyProblem(badAddress, "regions[1].backboneAddress", `"10.0.0.7:28600" is not a valid address; expected an IPv4 address or a lowercase DNS hostname, without port`);
    const badPublish = structuredClone(valid);
    badPublish.regions[1].publishAddress = "localhost";
    assertOnlyProblem(badPublish, "regions[1].publishAddress", `"localhost" is not a valid IPv4 address`);
    const addressAlone = validRaw();
    addressAlone.regions[0].publishAddress = "0.0.0.0";
    assertOnlyProblem(addressAlone, "regions[0].publishAddress", `"0.0.0.0" is set without dockerHost; expected publishAddress only together with dockerHost`);
    const noPort = structuredClone(valid);
    delete noPort.regions[1].backbonePort;
    assertOnlyProblem(noPort, "regions[1].backbonePort", "is missing while dockerHost is set");
    const partial = structuredClone(valid);
    delete partial.regions[1].dockerHost;
    delete partial.regions[1].backbonePort;
    delete partial.regions[1].backboneAddress;
    delete partial.regions[1].publishAddress;
    assertOnlyProblem(partial, "regions[1].dockerHost", "is missing while regions[0] sets one");
    const badScheme = structuredClone(valid);
    badScheme.regions[1].dockerHost = "unix:///var/run/docker.sock";
    assertOnlyProblem(badScheme, "regions[1].dockerHost", `"unix:///var/run/docker.sock" is not a valid Docker host; expected ssh://`);
  });

  it("WAN: round trips name two different known regions, each pair once, 0 to 2000 ms", () => {
    const valid = validRaw();
    const [a, b] = [valid.regions[0].name, valid.regions[1].name];
    valid.wan = { rttMs: { [`${a}/${b}`]: 80 } };
    assert.deepEqual(problemsOf(valid), []);
    assert.equal(validateTopology(valid).wan?.rttMs[`${a}/${b}`], 80);
    const self = structuredClone(valid);
    self.wan.rttMs = { [`${a}/${a}`]: 10 };
    assertOnlyProblem(self, `wan.rttMs["${a}/${a}"]`, "is not a pair of two different regions; expected <region>/<region>");
    const unknown = structuredClone(valid);
    unknown.wan.rttMs = { [`${a}/mars`]: 10 };
    assertOnlyProblem(unknown, `wan.rttMs["${a}/mars"]`, "names unknown region(s) mars");
    const twice = structuredClone(valid);
    twice.wan.rttMs = { [`${a}/${b}`]: 10, [`${b}/${a}`]: 20 };
    assertOnlyProblem(twice, `wan.rttMs["${b}/${a}"]`, `is the same pair as wan.rttMs["${a}/${b}"]; expected each pair of regions once`);
    const far = structuredClone(valid);
    far.wan.rttMs = { [`${a}/${b}`]: 2001 };
    assertOnlyProblem(far, `wan.rttMs["${a}/${b}"]`, "2001 is out of range; expected a round-trip time in milliseconds, an integer from 0 to 2000");
  });

  it("Ports: backbone host ports of a region's POPs (backbonePort + i) do not clash", () => {
    const invalid = validRaw();
    invalid.regions[0].dockerHost = "ssh://north.hosts.test";
    invalid.regions[0].backboneAddress = "north.hosts.test";
    invalid.regions[0].backbonePort = 29000; // pops take 29000 and 29001; 29001 is a statsPort
    invalid.regions[1].dockerHost = "ssh://south.hosts.test";
    invalid.regions[1].backboneAddress = "south.hosts.test";
    invalid.regions[1].backbonePort = 28600;
    assertOnlyProblem(invalid, "regions[0].backbonePort (+1 for pops[1])", "29001 is already used as a published host port at regions[0].pops[0].statsPort");
  });

  it("Resources: nofile is at least 1024 and leaves room for connections", () => {
    const low = validRaw();
    low.resources = { nofile: 512 };
    assertOnlyProblem(low, "resources.nofile", "512 is out of range; expected an open-files limit, an integer from 1024");
    const tight = validRaw();
    tight.resources = { nofile: 4096, connections: { perListener: 1000, global: 3000 } };
    assertOnlyProblem(tight, "resources.connections.global", "3000 leaves too few file descriptors under resources.nofile (4096); expected at most nofile / 2 (2048)");
  });

  it("Resources: the per-listener connection limit is within the global one", () => {
    const invalid = validRaw();
    invalid.resources = { connections: { perListener: 5000, global: 4000 } };
    assertOnlyProblem(invalid, "resources.connections.perListener", "5000 exceeds resources.connections.global (4000)");
  });

  it("Names: derived container names are distinct", () => {
    const invalid = validRaw();
    // pop "b-p1" in region "north" and pop "p1" in region "north-b" are both shop-pop-north-b-p1.
    invalid.regions[0].pops[1].name = "b-p1";
    invalid.regions[1].name = "north-b";
    invalid.tenants[1].region = "north-b";
    assertOnlyProblem(invalid, "regions[1].pops[0]", `gives the container name "shop-pop-north-b-p1" is already used as a container name at regions[0].pops[1]`);
  });

  it("Names: derived container names fit one DNS label", () => {
    const valid = validRaw();
    valid.regions[0].pops[0].name = "p".repeat(40);
    assert.deepEqual(problemsOf(valid), []);
    const invalid = validRaw();
    invalid.regions[0].name = "northernmost-aa";
    invalid.tenants[0].region = "northernmost-aa";
    invalid.regions[0].pops[0].name = "p".repeat(40);
    assertOnlyProblem(invalid, "regions[0].pops[0]", `"shop-pop-northernmost-aa-${"p".repeat(40)}" of 65 chars`, "at most 63 chars");
  });

  it("Names: the clusters of a POP have distinct names", () => {
    const invalid = validRaw();
    // App "edge" in region "router-x" gives "edge-router-x", the peer cluster of region "x".
    invalid.apps[0].name = "edge";
    for (const region of invalid.regions) region.datacenter.apps = { edge: { replicas: 1 }, search: { replicas: 1 } };
    invalid.regions[0].name = "router-x";
    invalid.regions[1].name = "x";
    invalid.tenants[0].region = "router-x";
    invalid.tenants[1].region = "x";
    assertOnlyProblem(invalid, "regions[1].name", `gives the Envoy cluster name "edge-router-x" is already used as a cluster name in the POPs of regions[0] (router-x) at apps[0].name`);
  });

  it("Shape: unknown fields are rejected with the known ones listed", () => {
    const invalid = validRaw();
    invalid.regions[0].dockerhost = "ssh://north.hosts.test";
    assertOnlyProblem(invalid, "regions[0].dockerhost", "unknown field; expected one of name, jurisdiction, dockerHost, backbonePort, backboneAddress, publishAddress, pops, datacenter");
  });

  it("Shape: missing required fields are named", () => {
    const invalid = validRaw();
    delete invalid.jwt.issuer;
    assertOnlyProblem(invalid, "jwt.issuer", "is missing");
  });

  it("Shape: defaults fill routing, timeouts, ports and resources", () => {
    const raw = validRaw();
    assert.deepEqual(problemsOf(raw), []);
    raw.routing = { maxHops: 2 };
    assert.deepEqual(problemsOf(raw), []);
  });

  it("Errors: every problem is reported at once", () => {
    const invalid = validRaw();
    invalid.project = "Shop";
    invalid.regions[1].pops[0].name = "Pop A";
    invalid.regions[1].pops[0].clientPort = 28001;
    invalid.tenants[0].region = "west";
    invalid.apps[1].prefix = "/cart/search";
    const problems = problemsOf(invalid);
    const paths = problems.map((problem) => problem.slice(0, problem.indexOf(": ")));
    assert.deepEqual(paths.sort(), [
      "apps[1].prefix",
      "project",
      "regions[1].pops[0].clientPort",
      "regions[1].pops[0].name",
      "tenants[0].region",
    ]);
  });
});

it("Routing: discovery.negativeCacheMaxEntries must be a whole number from 1 to 1000000", () => {
  const valid = validRaw();
  valid.routing = { discovery: { negativeCacheMaxEntries: 1 } };
  assert.deepEqual(problemsOf(valid), []);
  const invalid = validRaw();
  invalid.routing = { discovery: { negativeCacheMaxEntries: 0 } };
  assertOnlyProblem(invalid, "routing.discovery.negativeCacheMaxEntries", "0");
});

it("Routing: discovery.staleIfErrorSeconds, maxConcurrentLookups and failureBackoffMs take their bounds and nothing outside", () => {
  for (const discovery of [
    { staleIfErrorSeconds: 0, maxConcurrentLookups: 1, failureBackoffMs: 0 },
    { staleIfErrorSeconds: 86_400, maxConcurrentLookups: 100_000, failureBackoffMs: 60_000 },
  ]) {
    const valid = validRaw();
    valid.routing = { discovery };
    assert.deepEqual(problemsOf(valid), []);
  }
  const cases: Array<[string, unknown, string]> = [
    ["staleIfErrorSeconds", -1, "-1 is out of range; expected seconds, an integer from 0 to 86400"],
    ["staleIfErrorSeconds", 86_401, "86401 is out of range; expected seconds, an integer from 0 to 86400"],
    ["maxConcurrentLookups", 0, "0 is out of range; expected lookups in flight per worker, an integer from 1 to 100000"],
    ["maxConcurrentLookups", 2.5, "2.5 is not an integer; expected lookups in flight per worker"],
    ["maxLookupsPerSecond", 0, "0 is out of range; expected lookups started per second per worker, an integer from 1 to 100000"],
    ["failureBackoffMs", 60_001, "60001 is out of range; expected milliseconds, an integer from 0 to 60000"],
  ];
  for (const [field, value, message] of cases) {
    const invalid = validRaw();
    invalid.routing = { discovery: { [field]: value } };
    assertOnlyProblem(invalid, `routing.discovery.${field}`, message);
  }
});
