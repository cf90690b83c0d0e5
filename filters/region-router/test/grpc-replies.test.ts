import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { POP, TENANT, answerRegion, answerUnknownTenant, onlyPendingCall, replyBody, request, routerConfig, startRouter, values } from "./router-host.ts";

// A gRPC request's local replies are gRPC errors: the filter names the gRPC status, and Envoy (here
// the test host, which answers as Envoy does) sends it trailers-only with the JSON's fields as text.

const grpc = (type = "application/grpc"): [string, string] => ["content-type", type];
const claim = (region: string): [string, string] => ["x-edge-user-region", region];
const owner = (region: string): [string, string] => ["x-edge-owner", region];
const hops = (n: number): [string, string] => ["x-edge-hops", String(n)];
const PROFILE = "/edgerim.profile.v1.Profile";
const apps = () => [{ prefix: PROFILE, app: "profile", serving: [["us-east"], ["eu-west"], ["ap-southeast"]] }];

/** What a gRPC client reads from a trailers-only reply. */
function grpcReply(stream: ReturnType<typeof request>["stream"]) {
  return {
    status: stream.getResponseHeader(":status"),
    contentType: stream.getResponseHeader("content-type"),
    grpcStatus: stream.getResponseHeader("grpc-status"),
    grpcMessage: stream.getResponseHeader("grpc-message"),
    pop: stream.getResponseHeader("x-edge-pop"),
  };
}

describe("RegionRouter: gRPC local replies", () => {
  const cases: { what: string; rejection: string; grpcStatus: string; message: string; send: (host: Awaited<ReturnType<typeof startRouter>>, type: string) => ReturnType<typeof request> }[] = [
    {
      what: "no app serves the service (404 no_app)",
      rejection: "no_app", grpcStatus: "5", message: `no_app: no app serves this path (pop=${POP})`,
      send: (host, type) => request(host, "/other.v1.Service/Get", [grpc(type)]),
    },
    {
      what: "a claim for no region (403 unknown_region)",
      rejection: "unknown_region", grpcStatus: "7", message: `unknown_region: unknown region in token (pop=${POP})`,
      send: (host, type) => request(host, `${PROFILE}/Get`, [grpc(type), claim("mars")]),
    },
    {
      what: "an unknown tenant (503 no_owner)",
      rejection: "no_owner", grpcStatus: "14", message: `no_owner: unknown tenant (pop=${POP})`,
      send: (host, type) => {
        const sent = request(host, `${PROFILE}/Get`, [grpc(type)]);
        answerUnknownTenant(host, onlyPendingCall(host).token);
        return sent;
      },
    },
    {
      what: "a carried owner at the hop limit (508 loop_detected)",
      rejection: "loop_detected", grpcStatus: "13", message: `loop_detected: hop limit reached (pop=${POP})`,
      send: (host, type) => request(host, `${PROFILE}/Get`, [grpc(type), owner("eu-west"), hops(1)]),
    },
  ];
  for (const { what, rejection, grpcStatus, message, send } of cases) {
    it(`RegionRouter: ${what}: a gRPC request gets grpc-status ${grpcStatus} and "${rejection}: ..." as grpc-message, trailers-only`, async () => {
      for (const type of ["application/grpc", "application/grpc+proto"]) {
        const host = await startRouter(routerConfig({ apps: apps() }));
        const { stream } = send(host, type);
        assert.equal(stream.localResponse?.grpcStatus, Number(grpcStatus), type);
        assert.equal(stream.localResponse?.details, `edge_router.${rejection}`);
        assert.deepEqual(grpcReply(stream), { status: "200", contentType: "application/grpc", grpcStatus, grpcMessage: message, pop: POP }, type);
        assert.equal(stream.getResponseHeader("content-length"), undefined, "no body");
      }
    });
  }

  it("RegionRouter: owner_conflict for a gRPC request is PERMISSION_DENIED naming both regions", async () => {
    const host = await startRouter(routerConfig({ apps: apps(), conflict: "reject" }));
    const { stream } = request(host, `${PROFILE}/Get`, [grpc(), claim("eu-west")], TENANT);
    answerRegion(host, onlyPendingCall(host).token, "us-east");
    assert.deepEqual(grpcReply(stream), {
      status: "200", contentType: "application/grpc", grpcStatus: "7",
      grpcMessage: `owner_conflict: token and tenant name different owner regions (token_region=eu-west tenant_region=us-east pop=${POP})`,
      pop: POP,
    });
  });

  it("RegionRouter: a loop rejection decided here keeps its x-edge-route for a gRPC request too", async () => {
    const host = await startRouter(routerConfig({ apps: apps() }));
    const { stream } = request(host, `${PROFILE}/Get`, [grpc(), claim("eu-west"), hops(1)]);
    assert.equal(stream.getResponseHeader("grpc-status"), "13");
    assert.equal(stream.getResponseHeader("x-edge-route"), `owner=eu-west;source=jwt;pop=${POP};hops=1`);
  });

  for (const type of ["application/grpc-web", "application/grpc-web+proto", "application/grpcx", "application/json", "text/plain"]) {
    it(`RegionRouter: content-type ${type} is not gRPC (Envoy's rule): the reply is the JSON error`, async () => {
      const host = await startRouter(routerConfig({ apps: apps() }));
      const { stream } = request(host, "/other.v1.Service/Get", [grpc(type)]);
      assert.equal(stream.localResponse?.status, 404);
      assert.equal(stream.localResponse?.grpcStatus, undefined, "no gRPC status given");
      assert.deepEqual(replyBody(stream), { error: "no_app", message: "no app serves this path", pop: POP });
      assert.equal(stream.getResponseHeader("content-type"), "application/json");
      assert.equal(stream.getResponseHeader("grpc-status"), undefined);
    });
  }

  it("RegionRouter: a gRPC request is routed like any other: cluster, hop and decision headers, no reply", async () => {
    const host = await startRouter(routerConfig({ apps: apps() }));
    const { stream, action } = request(host, `${PROFILE}/Watch`, [grpc(), claim("ap-southeast")]);
    assert.equal(action, "continue");
    assert.equal(stream.localResponse, undefined);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-cluster"), ["edge-router-ap-southeast"]);
    assert.deepEqual(values(stream.requestHeaders, "x-edge-hops"), ["1"]);
    stream.onResponseHeaders([[":status", "200"], ["content-type", "application/grpc"]]);
    assert.equal(stream.getResponseHeader("x-edge-route"), `owner=ap-southeast;source=jwt;pop=${POP};hops=1`);
  });
});
