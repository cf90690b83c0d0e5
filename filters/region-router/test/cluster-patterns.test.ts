// One expansion rule for cluster patterns: the filter's (config.ts `fill`) and the TypeScript side's
// (names.ts `expandPattern`) get the same cases and must produce the same cluster names.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expandPattern } from "../../../infra/topology/names.ts";
import { request, routerConfig, startRouter } from "./router-host.ts";

const LOCAL_PATTERNS = ["{app}-{region}", "{region}.{app}.{region}", "app-{app}-{app}", "static", "{app}{region}{app}"];
const PEER_PATTERNS = ["edge-router-{region}", "{region}-{region}", "x.{region}.y", "{region}"];

describe("cluster patterns: the filter and names.ts expand them alike", () => {
  for (const [i, localClusterPattern] of LOCAL_PATTERNS.entries()) {
    const peerClusterPattern = PEER_PATTERNS[i % PEER_PATTERNS.length]!;
    it(`cluster patterns: ${localClusterPattern} and ${peerClusterPattern}`, async () => {
      const host = await startRouter(routerConfig({ localClusterPattern, peerClusterPattern }));
      for (const app of ["catalog", "orders"]) {
        const local = request(host, `/${app}`, [["x-edge-user-region", "us-east"]]).stream;
        assert.equal(local.getRequestHeader("x-edge-cluster"), expandPattern(localClusterPattern, { app, region: "us-east" }));
      }
      for (const region of ["eu-west", "ap-southeast"]) {
        const peer = request(host, "/catalog", [["x-edge-user-region", region]]).stream;
        assert.equal(peer.getRequestHeader("x-edge-cluster"), expandPattern(peerClusterPattern, { region }));
      }
    });
  }

  it("cluster patterns: every occurrence is replaced, on the TypeScript side too", () => {
    assert.equal(expandPattern("{region}.{app}.{region}", { app: "a", region: "r" }), "r.a.r");
  });
});
