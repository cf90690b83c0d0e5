import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { startAppServer, type AppServer } from "../app/server.ts";
import { PROFILE_SERVICE } from "../grpc/profile-service.ts";
import { grpc, ProfileClient } from "../grpc/profile-client.ts";
import { GrpcError, GrpcStatus, MAX_MESSAGE_BYTES, MessageReader, encodeGrpcMessage, isGrpcContentType, messageFrame } from "../grpc/wire.ts";
import { signToken } from "../tokens/sign.ts";
import { curl, spawnTs } from "./service-processes.ts";

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const tokenFor = (user: string) =>
  signToken({ user, region: "region-b", ttlSeconds: 300, issuer: "https://issuer.test", audience: "api", key: privateKey });

describe("gRPC app replica", () => {
  let app: AppServer;
  let client: ProfileClient;
  before(async () => {
    app = await startAppServer({ app: "profile", region: "region-a", datacenter: "dc-a", instance: "profile-a-1", grpcService: PROFILE_SERVICE });
    client = new ProfileClient(app.url);
  });
  after(async () => {
    client.close();
    await app.close();
  });

  test("Profile/Get: answers its identity, the call's path, the hops seen, the token's user and the request's size", async () => {
    const call = await client.get({ token: tokenFor("user-42"), metadata: { "x-edge-hops": "1" }, payloadBytes: 100 });
    assert.equal(call.code, grpc.status.OK, call.details);
    assert.deepEqual(call.replies, [{
      app: "profile", region: "region-a", datacenter: "dc-a", instance: "profile-a-1", path: `/${PROFILE_SERVICE}/Get`,
      hops: 1, user: "user-42", sequence: 0, receivedBytes: 102,
    }]);
    assert.equal(call.headers["content-type"], "application/grpc");
  });

  test("Profile/Get: absent hops is 0; a hops header that is no count and a call without a token leave hops and user unset", async () => {
    const plain = await client.get();
    assert.equal(plain.replies[0]?.hops, 0);
    assert.equal(plain.replies[0]?.user, undefined);
    const garbled = await client.get({ metadata: { "x-edge-hops": "one" } });
    assert.equal(garbled.code, grpc.status.OK);
    assert.equal(garbled.replies[0]?.hops, undefined, "unset, not 0");
  });

  test("Profile/Watch: streams count replies numbered from 1, interval_ms apart", async () => {
    const call = await client.watch(4, 50, { token: tokenFor("user-7") });
    assert.equal(call.code, grpc.status.OK, call.details);
    assert.deepEqual(call.replies.map((reply) => [reply.sequence, reply.region, reply.user, reply.path]), [1, 2, 3, 4].map((n) => [n, "region-a", "user-7", `/${PROFILE_SERVICE}/Watch`]));
    assert.ok(call.ms >= 150, `4 replies 50 ms apart took ${call.ms.toFixed(0)} ms`);
  });

  test("Profile/Watch: a count or interval out of range is INVALID_ARGUMENT naming the bounds", async () => {
    const none = await client.watch(0, 10);
    assert.equal(none.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(none.details, "count 0 is out of range; expected 1 to 1000");
    const slow = await client.watch(1, 10_001);
    assert.equal(slow.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(slow.details, "interval_ms 10001 is out of range; expected 0 to 10000");
  });

  test("Profile: an unknown method of the service, or another service, is UNIMPLEMENTED from the app", async () => {
    const method = await client.get({ method: "Delete" });
    assert.equal(method.code, grpc.status.UNIMPLEMENTED);
    assert.equal(method.details, `unknown method /${PROFILE_SERVICE}/Delete; expected /${PROFILE_SERVICE}/Get or /${PROFILE_SERVICE}/Watch`);
    const service = await client.get({ service: "other.v1.Profile" });
    assert.equal(service.code, grpc.status.UNIMPLEMENTED);
  });

  test("Profile: a request message over 4 MiB is RESOURCE_EXHAUSTED, refused from its length before the rest arrives; 4 MiB passes", async () => {
    const atLimit = await client.get({ payloadBytes: MAX_MESSAGE_BYTES - 5 });
    assert.equal(atLimit.code, grpc.status.OK, atLimit.details);
    assert.equal(atLimit.replies[0]?.receivedBytes, MAX_MESSAGE_BYTES);
    const over = await client.get({ payloadBytes: MAX_MESSAGE_BYTES - 4 });
    assert.equal(over.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(over.details, `request message of ${MAX_MESSAGE_BYTES + 1} bytes is over the limit of ${MAX_MESSAGE_BYTES} bytes`);
    const large = await client.get({ payloadBytes: 64 * 1024 * 1024 });
    assert.equal(large.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.ok(large.ms < 2000, `a 64 MiB message was refused in ${large.ms.toFixed(0)} ms`);
  });

  test("Profile: a compressed message is UNIMPLEMENTED; two messages for a unary call are INTERNAL", async () => {
    const send = (body: Buffer) =>
      new Promise<Record<string, string>>((resolve, reject) => {
        const session = http2.connect(app.url);
        const stream = session.request({ ":method": "POST", ":path": `/${PROFILE_SERVICE}/Get`, "content-type": "application/grpc", te: "trailers" });
        let headers: Record<string, string> = {};
        stream.on("response", (h) => (headers = { ...headers, ...(h as Record<string, string>) }));
        stream.on("trailers", (t) => (headers = { ...headers, ...(t as Record<string, string>) }));
        stream.on("close", () => {
          session.close();
          resolve(headers);
        });
        stream.on("error", reject);
        stream.resume();
        stream.end(body);
      });
    const compressed = messageFrame(new Uint8Array(3));
    compressed[0] = 1;
    assert.equal((await send(compressed))["grpc-status"], String(GrpcStatus.UNIMPLEMENTED));
    const twice = await send(Buffer.concat([messageFrame(new Uint8Array()), messageFrame(new Uint8Array())]));
    assert.deepEqual([twice["grpc-status"], twice["grpc-message"]], [String(GrpcStatus.INTERNAL), "expected one request message, got 2"]);
  });

  test("gRPC app: plain HTTP on any path (HTTP/1.1 and h2c) gets the JSON reply every app gives, and /healthz answers", async () => {
    for (const h2c of [false, true]) {
      const reply = await curl(`${app.url}/${PROFILE_SERVICE}/Get`, { h2c, headers: { authorization: `Bearer ${tokenFor("user-9")}` } });
      assert.equal(reply.status, 200);
      assert.deepEqual(JSON.parse(reply.body), {
        app: "profile", region: "region-a", datacenter: "dc-a", instance: "profile-a-1", path: `/${PROFILE_SERVICE}/Get`, hops: 0, user: "user-9",
      });
      const health = await curl(`${app.url}/healthz`, { h2c });
      assert.equal(health.status, 200);
      assert.equal(JSON.parse(health.body).status, "ok");
    }
  });
});

describe("gRPC app replica: draining", () => {
  test("gRPC app: close() lets a Watch in flight finish, then stops", async () => {
    const app = await startAppServer({ app: "profile", region: "region-a", grpcService: PROFILE_SERVICE });
    const client = new ProfileClient(app.url);
    try {
      const watching = client.watch(5, 100);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const closed = app.close();
      const call = await watching;
      assert.equal(call.code, grpc.status.OK, call.details);
      assert.deepEqual(call.replies.map((reply) => reply.sequence), [1, 2, 3, 4, 5]);
      await closed;
    } finally {
      client.close();
    }
  });
});

describe("gRPC wire", () => {
  test("isGrpcContentType: application/grpc and application/grpc+<codec> only, as Envoy decides", () => {
    for (const type of ["application/grpc", "application/grpc+proto", "application/grpc+json"]) assert.equal(isGrpcContentType(type), true, type);
    for (const type of [undefined, "", "application/grpc-web", "application/grpc-web+proto", "application/grpcx", "application/json", "Application/gRPC", "application/grpc;charset=utf-8"]) {
      assert.equal(isGrpcContentType(type), false, String(type));
    }
  });

  test("MessageReader: messages split across chunks or sharing one come out whole", () => {
    const reader = new MessageReader();
    const frames = Buffer.concat([messageFrame(Buffer.from("alpha")), messageFrame(Buffer.from("")), messageFrame(Buffer.from("gamma"))]);
    const out: string[] = [];
    for (let i = 0; i < frames.length; i += 3) out.push(...reader.push(frames.subarray(i, i + 3)).map((m) => m.toString()));
    assert.deepEqual(out, ["alpha", "", "gamma"]);
    assert.equal(reader.pendingBytes, 0);
    reader.push(messageFrame(Buffer.from("cut")).subarray(0, 6));
    assert.equal(reader.pendingBytes, 6);
  });

  test("MessageReader: a length over the limit is refused from the prefix alone", () => {
    const reader = new MessageReader(10);
    const prefix = Buffer.from([0, 0, 0, 0, 11]);
    assert.throws(() => reader.push(prefix), (error: unknown) => error instanceof GrpcError && error.status === GrpcStatus.RESOURCE_EXHAUSTED);
  });

  test("encodeGrpcMessage: printable ASCII stays, '%' and everything else is percent-encoded", () => {
    assert.equal(encodeGrpcMessage("no_app: no app serves this path (pop=a-1)"), "no_app: no app serves this path (pop=a-1)");
    assert.equal(encodeGrpcMessage("100% über\n"), "100%25 %C3%BCber%0A");
  });
});

describe("gRPC app command line", () => {
  test("app: GRPC_SERVICE that is no service name prints one line and exits 1", async () => {
    const service = spawnTs("upstreams/app/server.ts", { PATH: process.env.PATH, APP_NAME: "profile", REGION: "r", PORT: "0", GRPC_SERVICE: "/edgerim.profile.v1.Profile" });
    try {
      const exit = await service.exited;
      assert.equal(exit.code, 1);
      assert.equal(exit.stderr.trim(), "app: GRPC_SERVICE=/edgerim.profile.v1.Profile is invalid; expected a fully-qualified gRPC service name such as edgerim.profile.v1.Profile");
    } finally {
      await service.kill();
    }
  });
});
