// Failover in real Envoy on loopback: what the generated retry, health-check and local-reply settings
// do when a POP or a whole datacenter of the owner region dies. Docker scenarios (load/scenarios/)
// measure the same under load; these pin the behaviour on every test run.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { validateTopology } from "../../infra/topology/load.ts";
import { validRaw } from "../../infra/topology/test/fixtures.ts";
import { ingressContainer, peerCluster } from "../../infra/topology/names.ts";
import { signToken } from "../../upstreams/tokens/sign.ts";
import { unhealthyHosts } from "../cluster-health.ts";
import { renderProxies } from "../bootstraps.ts";
import { CONTAINER_JWT_AUTHN, dockerBackboneTls, dockerPublicTls, loopbackPlacement } from "../placement.ts";
import { IDEMPOTENT_METHODS, RETRIES } from "../failover.ts";
import { UNSERVED_HEADER } from "../headers.ts";
import { failsOver } from "../../infra/topology/inventory.ts";
import { startLoopbackEdge, type LoopbackEdge } from "../loopback-edge.ts";
import { defaultTopology, fourRegionTopology } from "./fixtures.ts";
import { hostClusters } from "../clusters.ts";

interface Reply {
  status: number;
  body: string;
  ms: number;
}

function send(url: string, headers: Record<string, string>, method = "GET"): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("Failover settings: every generated proxy", () => {
  for (const topology of [defaultTopology(), fourRegionTopology()]) {
    const proxies = renderProxies(topology, loopbackPlacement(topology, (() => { let p = 20000; return () => p++; })()), {
      wasmPath: "/m.wasm", jwtAuthn: CONTAINER_JWT_AUTHN, topologyPath: "t", backboneTls: dockerBackboneTls, publicTls: dockerPublicTls,
    });

    it(`${topology.project}: no layer retries a 5xx response, so a failure is retried only at the hop where it happened`, () => {
      const failingOver = topology.apps.filter((app) => failsOver(topology, app)).map((app) => app.name);
      for (const proxy of proxies) {
        for (const listener of proxy.bootstrap.static_resources.listeners) {
          const hcm = listener.filter_chains[0]!.filters[1]!;
          assert.ok(hcm.name === "envoy.filters.network.http_connection_manager");
          for (const route of hcm.typed_config.route_config.virtual_hosts.flatMap((host) => host.routes)) {
            const policy = route.route?.retry_policy;
            if (!policy) continue;
            const on = policy.retry_on.split(",");
            // The one exception: at a POP, an app that fails over retries a 503 marked unserved (no app
            // saw the request) in its next serving region.
            const acrossRegions = proxy.kind === "pop" && failingOver.includes(route.name);
            assert.deepEqual(on.filter((reason) => /5xx|gateway|status|retriable/.test(reason)), acrossRegions ? ["retriable-headers"] : [],
              `${proxy.container} ${route.name}: ${policy.retry_on}`);
            assert.deepEqual(policy.retriable_headers, acrossRegions ? [{ name: UNSERVED_HEADER, present_match: true }] : undefined);
            assert.equal(policy.retry_priority?.name, acrossRegions ? "envoy.retry_priorities.previous_priorities" : undefined);
            const first = route.match.headers?.[0];
            const idempotent = first && "string_match" in first ? first.string_match : undefined;
            if (idempotent && "safe_regex" in idempotent) {
              for (const method of IDEMPOTENT_METHODS) assert.match(method, new RegExp(idempotent.safe_regex.regex));
              assert.doesNotMatch("POST", new RegExp(idempotent.safe_regex.regex));
              assert.ok(on.includes("reset"), "an idempotent request is retried after a reset");
            } else {
              assert.ok(!on.includes("reset"), `${route.name}: any method may reach this route, so it is retried only when never sent`);
              assert.ok(on.includes("reset-before-request") && on.includes("connect-failure"));
            }
            const perTry = Number.parseFloat(policy.per_try_timeout);
            assert.ok(perTry * (RETRIES + 1) <= topology.timeouts.routeMs / 1000, "the tries fit the route timeout");
          }
        }
      }
    });

    it(`${topology.project}: every unavailable reply answers a gRPC request with its JSON fields as text first, then anyone else with the JSON`, () => {
      let replies = 0;
      for (const proxy of proxies) {
        for (const listener of proxy.bootstrap.static_resources.listeners) {
          const hcm = listener.filter_chains[0]!.filters[1]!;
          if (hcm.name !== "envoy.filters.network.http_connection_manager" || !hcm.typed_config.local_reply_config) continue;
          replies++;
          const [grpc, json] = hcm.typed_config.local_reply_config.mappers;
          assert.ok(grpc && json, `${proxy.container} ${listener.name}: two mappers`);
          assert.ok("and_filter" in grpc.filter && "response_flag_filter" in json.filter);
          const [flags, request] = grpc.filter.and_filter.filters;
          assert.deepEqual(flags, json.filter, "the same replies are rewritten");
          assert.ok(request && "header_filter" in request);
          const matcher = request.header_filter.header;
          const regex = "string_match" in matcher && "safe_regex" in matcher.string_match ? new RegExp(matcher.string_match.safe_regex.regex) : undefined;
          assert.equal(matcher.name, "content-type");
          for (const type of ["application/grpc", "application/grpc+proto"]) assert.match(type, regex!);
          for (const type of ["application/grpc-web", "application/grpc-web+proto", "application/json", "application/grpcx"]) assert.doesNotMatch(type, regex!);
          assert.deepEqual([grpc.status_code, grpc.headers_to_add], [json.status_code, json.headers_to_add], "the same status and unserved mark");
          assert.ok("text_format_source" in grpc.body_format_override && "json_format" in json.body_format_override);
          const fields = json.body_format_override.json_format;
          const text = grpc.body_format_override.text_format_source.inline_string;
          assert.ok(text.startsWith(`${fields.error}: ${fields.message} (`), text);
          for (const [key, value] of Object.entries(fields)) if (key !== "error" && key !== "message") assert.ok(text.includes(` ${key}=${value}`) || text.includes(`(${key}=${value}`), `${text} lacks ${key}`);
        }
      }
      assert.ok(replies > 0);
    });

    it(`${topology.project}: health-checked clusters never panic-route, eject only on connection failures, and size breakers from the topology`, () => {
      for (const proxy of proxies) {
        for (const cluster of hostClusters(proxy.bootstrap.static_resources.clusters)) {
          if (cluster.name === "admin") continue;
          assert.equal(cluster.common_lb_config?.healthy_panic_threshold.value, 0, `${proxy.container} ${cluster.name}`);
          assert.ok(cluster.health_checks?.[0]?.no_traffic_interval, "idle clusters are checked as often as busy ones");
          const outlier = cluster.outlier_detection!;
          assert.equal(outlier.enforcing_consecutive_5xx, 0);
          assert.equal(outlier.enforcing_consecutive_gateway_failure, 0);
          assert.equal(outlier.split_external_local_origin_errors, true);
          const limits = cluster.circuit_breakers!.thresholds[0]!;
          assert.equal(limits.max_connections, topology.resources.connections.perListener);
          assert.equal(limits.max_requests, topology.resources.connections.global);
          assert.ok(limits.retry_budget.budget_percent.value > 0);
        }
      }
    });
  }
});

describe("Failover in real Envoy: a POP or the datacenter of the owner region dies", () => {
  const raw = validRaw();
  raw.routing = { fallback: { policy: "reject" }, maxHops: 1, discovery: { timeoutMs: 400, cacheTtlSeconds: 60 } };
  const topology = validateTopology(raw);
  const [north, south] = topology.regions as [(typeof topology.regions)[0], (typeof topology.regions)[0]];
  const app = topology.apps[0]!;
  let edge: LoopbackEdge;
  const token = (region: string) =>
    signToken({ user: `u-${region}`, region, ttlSeconds: 600, issuer: topology.jwt.issuer, audience: topology.jwt.audiences, key: edge.keys.privateKey });
  const url = (region: string, pop: string) => `${edge.clientUrl(region, pop)}${app.prefix}/x`;

  before(async () => {
    assert.ok(north.pops.length >= 2, "the owner region needs a second POP to fail over to");
    edge = await startLoopbackEdge(topology);
  });
  after(async () => {
    await edge?.stop();
  });

  it("a killed POP of the owner region: requests entering elsewhere are served by its other POP, none fails", async () => {
    const entry = south.pops[0]!.name;
    // Right after its first health checks a worker may not balance over every host yet; wait until
    // both POPs of the owner region have served, so the fault hits a POP that was in rotation.
    const served = async () => (await (await fetch(`${edge.adminUrl(south.name, entry)}/clusters`)).text())
      .split("\n").filter((l) => l.startsWith(`${peerCluster(north.name)}::`) && l.includes("::rq_success::") && !l.endsWith("::0")).length;
    const warmDeadline = Date.now() + 10_000;
    while ((await served()) < north.pops.length && Date.now() < warmDeadline) {
      await send(url(south.name, entry), { authorization: `Bearer ${token(north.name)}` });
    }
    assert.equal(await served(), north.pops.length, "every POP of the owner region served before the fault");
    const victim = edge.envoys.get(`${north.name}-${north.pops[0]!.name}`)!;
    victim.process.kill("SIGKILL");
    const replies: Reply[] = [];
    // Sequential, starting at once: some requests are still balanced to the dead POP before it is ejected.
    for (let i = 0; i < 40; i++) replies.push(await send(url(south.name, entry), { authorization: `Bearer ${token(north.name)}` }));
    const failed = replies.filter((r) => r.status !== 200);
    const accessLog = () => edge.envoys.get(`${south.name}-${entry}`)!.log().split("\n").filter((l) => l.includes('"status":503')).slice(-5).join("\n");
    assert.deepEqual(failed.map((r) => `${r.status} ${r.body}`), [], accessLog());
    for (const r of replies) assert.equal(JSON.parse(r.body).region, north.name);
    const southAdmin = edge.adminUrl(south.name, entry);
    const deadline = Date.now() + 5000;
    let pending: string[] = [];
    while (Date.now() < deadline) {
      pending = (await unhealthyHosts(southAdmin)).filter((h) => h.startsWith(`${peerCluster(north.name)}::`));
      if (pending.length === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(pending.length, 1, "the dead POP left rotation within 5 s");
  });

  it("the owner's datacenter killed: 503 JSON owner_unavailable naming the region within 1 s, wherever the request enters; other regions unaffected", async () => {
    for (let replica = 1; replica <= north.datacenter.ingressReplicas; replica++) {
      edge.envoys.get(ingressContainer(topology.project, north.name, replica))!.process.kill("SIGKILL");
    }
    const entries: [string, string][] = [[north.name, north.pops[1]!.name], [south.name, south.pops[0]!.name]];
    // The first requests may still find a dead ingress host (connect failure, then no host left); from then on it is immediate.
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
      for (const [region, pop] of entries) {
        const r = await send(url(region, pop), { authorization: `Bearer ${token(north.name)}` });
        assert.equal(r.status, 503, `entering ${region}-${pop}: ${r.body}`);
        const body = JSON.parse(r.body) as { error: string; region: string; app: string };
        assert.equal(body.error, "owner_unavailable");
        assert.equal(body.region, north.name);
        assert.equal(body.app, app.name);
        assert.ok(r.ms < 1000, `answered in ${r.ms.toFixed(0)} ms`);
      }
    }
    assert.ok(Date.now() - started < 20_000);
    const other = await send(url(south.name, south.pops[0]!.name), { authorization: `Bearer ${token(south.name)}` });
    assert.equal(other.status, 200, other.body);
    assert.equal(JSON.parse(other.body).region, south.name);
  });

  it("a POST reaching a dead datacenter is answered, not retried into another region", async () => {
    const r = await send(url(north.name, north.pops[1]!.name), { authorization: `Bearer ${token(north.name)}` }, "POST");
    assert.equal(r.status, 503);
    assert.equal(JSON.parse(r.body).error, "owner_unavailable");
  });
});
