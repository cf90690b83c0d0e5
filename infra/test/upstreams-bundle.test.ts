import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot } from "../../scripts/toolchain/paths.ts";
import { bundleUpstreams, type UpstreamsBundle } from "../upstreams-image.ts";
import { PROFILE_SERVICE } from "../../upstreams/grpc/profile-service.ts";
import { grpc, ProfileClient } from "../../upstreams/grpc/profile-client.ts";
import { curl, listeningPort, spawnNode, type ServiceProcess } from "../../upstreams/test/service-processes.ts";

// The services image runs these bundles with plain Node from /srv/edgerim/: what the bundle step
// writes must run there on its own, the gRPC app's proto included. No Docker needed to check it.

describe("upstreams bundle", () => {
  let dir: string;
  let bundle: UpstreamsBundle;
  let app: ServiceProcess | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "edgerim-bundle-"));
    bundle = bundleUpstreams("bundle-test", join(dir, "srv"));
  });
  after(async () => {
    await app?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it("Bundle: the Dockerfile copies exactly the files the bundle step writes", () => {
    const dockerfile = readFileSync(join(repoRoot, "infra/images/upstreams/Dockerfile"), "utf8");
    const copied = /^COPY (.+) \/srv\/edgerim\/$/m.exec(dockerfile)?.[1]?.split(" ");
    assert.deepEqual(copied?.sort(), readdirSync(bundle.dir).sort());
    assert.match(bundle.tag, /^bundle-test\/upstreams:[0-9a-f]{12}$/);
  });

  it("Bundle: the bundled app of a gRPC app serves Profile calls over h2c and /healthz over HTTP/1.1 (the container's health check)", async () => {
    app = spawnNode([join(bundle.dir, "app.mjs")], {
      PATH: process.env.PATH, APP_NAME: "profile", REGION: "region-a", INSTANCE: "profile-a-1", HOST: "127.0.0.1", PORT: "0", GRPC_SERVICE: PROFILE_SERVICE,
    }, bundle.dir);
    const port = await listeningPort(app);
    const client = new ProfileClient(`http://127.0.0.1:${port}`);
    try {
      const call = await client.watch(2, 10);
      assert.equal(call.code, grpc.status.OK, call.details);
      assert.deepEqual(call.replies.map((reply) => [reply.sequence, reply.instance]), [[1, "profile-a-1"], [2, "profile-a-1"]]);
    } finally {
      client.close();
    }
    const health = await curl(`http://127.0.0.1:${port}/healthz`);
    assert.deepEqual([health.status, health.httpVersion], [200, "1.1"]);
  });
});
