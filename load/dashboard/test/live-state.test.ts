// How the page's numbers are derived from the POPs' Prometheus pages: counters by name, the route
// matrix from forwarded/routed/carried, datacenter health from the local clusters, and the drawing;
// when the live state is pushed, against stand-in stats listeners; and what a missing browser says.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { deployOutputs } from "../../../infra/commands/outputs.ts";
import { listPops } from "../../../infra/topology/inventory.ts";
import { validateTopology } from "../../../infra/topology/load.ts";
import { localCluster } from "../../../infra/topology/names.ts";
import { validRaw } from "../../../infra/topology/test/fixtures.ts";
import { parsePrometheusText } from "../../lib/prometheus-text.ts";
import { launchChromium } from "../browser.ts";
import { networkSvg } from "../diagram-svg.ts";
import { appHealth, checkOutcome, bucketP95, healthOf, increase, LiveState, matrixIncrease } from "../live-state.ts";
import { networkModel } from "../network.ts";
import { localClusterHealth, routerCounters, type RouterCounters } from "../pop-stats.ts";
import type { DashboardState } from "../wire.ts";

const names = { regions: ["us-east", "eu-west"], apps: ["catalog"] };

const page = (values: Record<string, number>) =>
  parsePrometheusText(
    [
      "# TYPE edge_router_routed_local counter",
      `edge_router_routed_local{} ${values.local ?? 0}`,
      `edge_router_carried{} ${values.carried ?? 0}`,
      `edge_router_forwarded_us_east{} 0`,
      `edge_router_forwarded_eu_west{} ${values.forwarded ?? 0}`,
      `edge_router_rejected_no_owner{} ${values.noOwner ?? 0}`,
      `edge_router_rejected_loop_detected{} 0`,
      `edge_router_failover_catalog_eu_west{} 2`,
      `edge_router_lookup_ms_bucket{le="1"} 1`,
      `edge_router_lookup_ms_bucket{le="5"} 19`,
      `edge_router_lookup_ms_bucket{le="10"} 20`,
      `edge_router_lookup_ms_bucket{le="+Inf"} 20`,
      `edge_router_lookup_ms_sum{} 60`,
      `edge_router_lookup_ms_count{} 20`,
      `envoy_cluster_membership_healthy{envoy_cluster_name="catalog-us-east"} ${values.healthy ?? 1}`,
      `envoy_cluster_health_check_success{envoy_cluster_name="catalog-us-east"} ${values.passed ?? 5}`,
      `envoy_cluster_health_check_failure{envoy_cluster_name="catalog-us-east"} ${values.failed ?? 0}`,
      `envoy_cluster_health_check_network_failure{envoy_cluster_name="catalog-us-east"} ${values.network ?? 0}`,
    ].join("\n"),
  );

const counters = (values: Record<string, number>): RouterCounters => routerCounters(page(values), names);

test("routerCounters: reads edge_router.* by the filter's names, region and app names with '-' as '_'", () => {
  const c = counters({ local: 7, carried: 3, forwarded: 4, noOwner: 2 });
  assert.equal(c.routedLocal, 7);
  assert.equal(c.carried, 3);
  assert.deepEqual(c.forwarded, { "us-east": 0, "eu-west": 4 });
  assert.deepEqual(c.rejected, { no_owner: 2, loop_detected: 0 });
  assert.deepEqual(c.failover, { catalog: { "us-east": 0, "eu-west": 2 } });
  assert.deepEqual({ count: c.lookupMs.count, sum: c.lookupMs.sum }, { count: 20, sum: 60 });
  assert.equal(bucketP95(c.lookupMs.buckets, c.lookupMs.count), 5);
  assert.equal(bucketP95([], 0), null);
});

test("matrixIncrease: entry x owner is forwarded.<owner> elsewhere and routed locally minus carried at home", () => {
  const before = counters({ local: 10, carried: 4, forwarded: 1 });
  const now = counters({ local: 16, carried: 5, forwarded: 3 });
  assert.deepEqual(matrixIncrease("us-east", now, before), { "eu-west": 2, "us-east": 5 });
});

test("increase: a counter lower than before is a restarted Envoy's, counted from 0", () => {
  assert.equal(increase(12, 10), 2);
  assert.equal(increase(3, 10), 3);
  assert.equal(increase(5, undefined), 0);
});

test("checkOutcome: the last check since the previous reading; no check keeps the last outcome; a pass and a failure in one interval are a change", () => {
  const view = (values: Record<string, number>) => localClusterHealth(page(values), "us-east", ["catalog"]).catalog!;
  const base = view({ passed: 5, failed: 1, network: 1 });
  assert.equal(checkOutcome(view({ passed: 6, failed: 1, network: 1 }), base, undefined), "passed");
  assert.equal(checkOutcome(view({ passed: 5, failed: 2, network: 1 }), base, "passed"), "failed");
  assert.equal(checkOutcome(view({ passed: 5, failed: 2, network: 2 }), base, "passed"), "unreachable");
  assert.equal(checkOutcome(base, base, "unreachable"), "unreachable", "no check ran: the last outcome holds");
  assert.equal(checkOutcome(view({ passed: 6, failed: 2, network: 2 }), base, "passed"), "unreachable", "it was passing: the failure is the change");
  assert.equal(checkOutcome(view({ passed: 6, failed: 2, network: 2 }), base, "unreachable"), "passed", "it was failing: the pass is the change");
  assert.equal(checkOutcome(base, undefined, undefined), undefined);
});

test("appHealth: down once every POP sees no healthy member or its last check failed; unknown without a view", () => {
  const view = (values: Record<string, number>) => localClusterHealth(page(values), "us-east", ["catalog"]).catalog!;
  const steady = { now: view({ passed: 6 }), outcome: "passed" as const };
  const failing = { now: view({ passed: 5, failed: 1 }), outcome: "failed" as const };
  const empty = { now: view({ healthy: 0 }), outcome: undefined };
  const unreachable = { now: view({ passed: 5, failed: 1, network: 1 }), outcome: "unreachable" as const };
  const noIngress = { health: "down", healthy: 1, ingressUnreachable: true };
  assert.deepEqual(appHealth([steady]), { health: "up", healthy: 1, ingressUnreachable: false });
  assert.deepEqual(appHealth([failing]), { health: "down", healthy: 1, ingressUnreachable: false }, "the app failed, the ingress answered");
  assert.deepEqual(appHealth([failing, empty]), { health: "down", healthy: 1, ingressUnreachable: false });
  assert.deepEqual(appHealth([failing, steady]), { health: "up", healthy: 1, ingressUnreachable: false }, "one POP still passes its checks");
  assert.deepEqual(appHealth([unreachable, unreachable]), noIngress, "no POP reaches the ingress");
  assert.deepEqual(appHealth([unreachable, failing]).ingressUnreachable, true, "one POP cannot reach it, the other's last check failed too");
  assert.deepEqual(appHealth([unreachable, steady]).ingressUnreachable, false, "one POP still passes its checks");
  assert.deepEqual(appHealth([]), { health: "unknown", healthy: null, ingressUnreachable: false });
});

test("healthOf: changes with a POP's, datacenter's or app's health, not with counters or the time", () => {
  const topology = validateTopology(validRaw());
  const state = new LiveState(networkModel(topology), () => ({ error: "no deploy" })).current();
  const other = structuredClone(state);
  other.at += 250;
  other.matrix.cells[0]!.count += 3;
  assert.equal(healthOf(other), healthOf(state), "only counters and the time moved");
  other.datacenters[0]!.apps[0]!.health = "down";
  assert.notEqual(healthOf(other), healthOf(state), "an app went down");
  const popDown = structuredClone(state);
  popDown.pops[0]!.health = "down";
  assert.notEqual(healthOf(popDown), healthOf(state), "a POP went down");
});

/**
 * Stands in for every POP's stats listener, at `<url>/<pop id>`: each POP's local clusters have one
 * healthy member and the health checks counted so far; a POP's answers can be held back.
 */
class StatsStandIn {
  readonly checks = new Map<string, { passed: number; failed: number; network: number }>();
  readonly holdMs = new Map<string, number>();
  /** Readings (`/ready` requests) of each POP: asked so far, open now, most open at once. */
  readonly asked = new Map<string, number>();
  readonly open = new Map<string, number>();
  readonly mostOpen = new Map<string, number>();
  private constructor(
    readonly server: Server,
    readonly url: string,
  ) {}

  static async start(regionOf: Map<string, string>, apps: string[]): Promise<StatsStandIn> {
    let standIn: StatsStandIn | undefined;
    const server = createServer((req, res) => {
      const [, pop = "", ...rest] = (req.url ?? "").split("?")[0]!.split("/");
      void standIn!.answer(pop, rest.join("/"), regionOf.get(pop) ?? "", apps).then((body) => res.end(body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    standIn = new StatsStandIn(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    for (const pop of regionOf.keys()) standIn.checks.set(pop, { passed: 5, failed: 0, network: 0 });
    return standIn;
  }

  private async answer(pop: string, path: string, region: string, apps: string[]): Promise<string> {
    const ready = path === "ready";
    const count = (map: Map<string, number>, by: number) => map.set(pop, (map.get(pop) ?? 0) + by).get(pop)!;
    if (ready) {
      count(this.asked, 1);
      this.mostOpen.set(pop, Math.max(this.mostOpen.get(pop) ?? 0, count(this.open, 1)));
    }
    await new Promise((resolve) => setTimeout(resolve, this.holdMs.get(pop) ?? 0));
    if (ready) count(this.open, -1);
    if (ready) return "LIVE\n";
    const { passed, failed, network } = this.checks.get(pop)!;
    return apps
      .flatMap((app) => {
        const cluster = `{envoy_cluster_name="${localCluster(app, region)}"}`;
        return [
          `envoy_cluster_membership_healthy${cluster} 1`,
          `envoy_cluster_health_check_success${cluster} ${passed}`,
          `envoy_cluster_health_check_failure${cluster} ${failed}`,
          `envoy_cluster_health_check_network_failure${cluster} ${network}`,
        ];
      })
      .join("\n");
  }

  close(): Promise<unknown> {
    return new Promise((resolve) => this.server.close(resolve));
  }
}

async function until(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  for (const started = Date.now(); !done(); await new Promise((resolve) => setTimeout(resolve, 10))) {
    if (Date.now() - started > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`);
  }
}

/** A LiveState of the fixture topology whose POPs are read at a stand-in; `pushed` holds every state it pushed. */
async function liveAtStandIn(intervalMs: number) {
  const topology = validateTopology(validRaw());
  const pops = listPops(topology);
  const standIn = await StatsStandIn.start(new Map(pops.map((p) => [p.id, p.region.name])), topology.apps.map((a) => a.name));
  const outputs = deployOutputs(
    topology,
    pops.map(({ region, pop, id }) => ({ id, region: region.name, pop: pop.name, clientUrl: standIn.url, tlsUrl: standIn.url, statsUrl: `${standIn.url}/${id}` })),
    "/nonexistent/ca.crt",
  );
  const live = new LiveState(networkModel(topology), () => ({ outputs, file: "outputs.json" }), intervalMs);
  const pushed: DashboardState[] = [];
  live.subscribe((state) => pushed.push(state));
  return { live, standIn, pushed, pops: pops.map((p) => p.id) };
}

const datacenter = (state: DashboardState | undefined, region: string) => state?.datacenters.find((d) => d.region === region)?.health;

test("LiveState: a reading that changes a datacenter's health is pushed at once, not when the slowest POP of the round has answered", async () => {
  const { live, standIn, pushed } = await liveAtStandIn(60_000);
  try {
    await live.poll();
    assert.equal(datacenter(pushed.at(-1), "north"), "up");
    standIn.holdMs.set("south-p1", 700);
    // Every check of north's POPs since the last reading failed to reach the ingress.
    for (const pop of ["north-p1", "north-p2"]) standIn.checks.set(pop, { passed: 5, failed: 1, network: 1 });
    let polled = false;
    const round = live.poll().then(() => (polled = true));
    await until("north pushed down", () => datacenter(pushed.at(-1), "north") === "down", 600);
    assert.equal(polled, false, "pushed before the round ended");
    assert.equal(standIn.open.get("south-p1"), 1, "south-p1's reading is still under way");
    await round;
    assert.equal(datacenter(pushed.at(-1), "north"), "down", "the round's own push says the same");
  } finally {
    await live.stop();
    await standIn.close();
  }
});

test("LiveState: rounds keep their clock while a POP is slow, that POP is never read twice at once, and stop() ends the pushes", async () => {
  const { live, standIn, pushed } = await liveAtStandIn(50);
  standIn.holdMs.set("south-p1", 400);
  live.start();
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
  } finally {
    await live.stop();
  }
  await standIn.close();
  assert.equal(standIn.mostOpen.get("south-p1"), 1, "one reading of the slow POP at a time");
  assert.ok((standIn.asked.get("south-p1") ?? 0) <= 3, `the slow POP read ${standIn.asked.get("south-p1")} times in 1 s`);
  assert.ok((standIn.asked.get("north-p1") ?? 0) >= 8, `the others read ${standIn.asked.get("north-p1")} times in 1 s, not held back`);
  assert.ok(pushed.length >= 8, `${pushed.length} pushes in 1 s: one a round at least`);
  const after = pushed.length;
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(pushed.length, after, "no push after stop()");
});

test("networkSvg: one node per region, POP, datacenter, app and replica of the topology, and an arc per region pair", () => {
  const topology = validateTopology(validRaw());
  const svg = networkSvg(networkModel(topology));
  const ids = [...svg.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(
    ids.filter((id) => /^(region|pop|dc|app|replica|backbone)-/.test(id!)),
    [
      "backbone-north-south",
      "region-north", "pop-north-p1", "pop-north-p2", "dc-north", "app-north-cart", "replica-shop-app-cart-north-1", "app-north-search", "replica-shop-app-search-north-1", "replica-shop-app-search-north-2",
      "region-south", "pop-south-p1", "dc-south", "app-south-cart", "replica-shop-app-cart-south-1", "app-south-search", "replica-shop-app-search-south-1",
    ],
  );
});

test("launchChromium: a Chromium that is not installed is one error naming the fix", async () => {
  const saved = process.env.EDGE_CHROMIUM_BIN;
  process.env.EDGE_CHROMIUM_BIN = "/nonexistent/chromium";
  try {
    await assert.rejects(launchChromium(), /^Error: chromium not found at \/nonexistent\/chromium: run `npm run setup`$/);
  } finally {
    if (saved === undefined) delete process.env.EDGE_CHROMIUM_BIN;
    else process.env.EDGE_CHROMIUM_BIN = saved;
  }
});
