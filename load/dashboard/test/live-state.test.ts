// How the page's numbers are derived from the POPs' Prometheus pages: counters by name, the route
// matrix from forwarded/routed/carried, datacenter health from the local clusters, and the drawing;
// and what a missing browser says.
import { test } from "node:test";
import assert from "node:assert/strict";
import { validateTopology } from "../../../infra/topology/load.ts";
import { validRaw } from "../../../infra/topology/test/fixtures.ts";
import { parsePrometheusText } from "../../lib/prometheus-text.ts";
import { launchChromium } from "../browser.ts";
import { networkSvg } from "../diagram-svg.ts";
import { appHealth, checkOutcome, bucketP95, increase, matrixIncrease } from "../live-state.ts";
import { networkModel } from "../network.ts";
import { localClusterHealth, routerCounters, type RouterCounters } from "../pop-stats.ts";

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
