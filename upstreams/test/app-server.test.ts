import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { startAppServer, type AppServer } from "../app/server.ts";
import { signToken } from "../tokens/sign.ts";
import { curl, spawnTs } from "./service-processes.ts";

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const tokenFor = (user: string) =>
  signToken({
    user,
    region: "region-b",
    ttlSeconds: 300,
    issuer: "https://issuer.test",
    audience: "api",
    key: privateKey,
  });

describe("app server", () => {
  let app: AppServer;
  before(async () => {
    app = await startAppServer({ app: "catalog", region: "region-a", datacenter: "dc-a", instance: "catalog-a-1" });
  });
  after(() => app.close());

  test("app: answers HTTP/1.1 with its identity, the path, the hops seen and the token's user", async () => {
    const reply = await curl(`${app.url}/catalog/items/7?page=2`, {
      headers: { "x-edge-hops": "1", authorization: `Bearer ${tokenFor("user-42")}` },
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.httpVersion, "1.1");
    assert.deepEqual(JSON.parse(reply.body), {
      app: "catalog",
      region: "region-a",
      datacenter: "dc-a",
      instance: "catalog-a-1",
      path: "/catalog/items/7?page=2",
      hops: 1,
      user: "user-42",
    });
  });

  test("app: answers h2c with prior knowledge on the same port", async () => {
    const reply = await curl(`${app.url}/orders`, {
      h2c: true,
      headers: { authorization: `Bearer ${tokenFor("user-7")}` },
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.httpVersion, "2");
    const body = JSON.parse(reply.body);
    assert.equal(body.path, "/orders");
    assert.equal(body.hops, 0);
    assert.equal(body.user, "user-7");
  });

  test("app: serves concurrent streams of one h2c session, each with its own headers", async () => {
    const session = http2.connect(app.url);
    try {
      const replies = await Promise.all(
        [0, 1, 2, 3, 4].map(
          (hops) =>
            new Promise<{ status: number; body: { path: string; hops: number } }>((resolve, reject) => {
              const stream = session.request({ ":path": `/catalog/${hops}`, "x-edge-hops": String(hops) });
              let status = 0;
              let text = "";
              stream.on("response", (headers) => (status = Number(headers[":status"])));
              stream.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
              stream.on("end", () => resolve({ status, body: JSON.parse(text) }));
              stream.on("error", reject);
            }),
        ),
      );
      assert.deepEqual(
        replies.map((reply) => [reply.status, reply.body.path, reply.body.hops]),
        [0, 1, 2, 3, 4].map((hops) => [200, `/catalog/${hops}`, hops]),
      );
    } finally {
      session.close();
    }
  });

  test("app: absent hops is 0, a malformed hops header is null, a malformed token gives no user", async () => {
    const plain = JSON.parse((await curl(`${app.url}/x`)).body);
    assert.equal(plain.hops, 0);
    assert.equal(plain.user, null);
    const malformed = JSON.parse(
      (await curl(`${app.url}/x`, { headers: { "x-edge-hops": "one", authorization: "Bearer not-a-jwt" } })).body,
    );
    assert.equal(malformed.hops, null);
    assert.equal(malformed.user, null);
    const basic = JSON.parse((await curl(`${app.url}/x`, { headers: { authorization: "Basic dXNlcjpwYXNz" } })).body);
    assert.equal(basic.user, null);
  });

  test("app: /healthz answers 200 on both protocols", async () => {
    for (const h2c of [false, true]) {
      const reply = await curl(`${app.url}/healthz`, { h2c });
      assert.equal(reply.status, 200);
      assert.equal(JSON.parse(reply.body).status, "ok");
    }
  });
});

describe("app command line", () => {
  test("app: a missing required variable prints one line naming it and exits 1", async () => {
    const service = spawnTs("upstreams/app/server.ts", { PATH: process.env.PATH, REGION: "region-a", PORT: "0" });
    try {
      const exit = await service.exited;
      assert.equal(exit.code, 1);
      const lines = exit.stderr.trim().split("\n");
      assert.equal(lines.length, 1, exit.stderr);
      assert.match(lines[0]!, /^app: missing required env APP_NAME; expected /);
    } finally {
      await service.kill();
    }
  });

  test("app: an invalid PORT is rejected with the valid range", async () => {
    const service = spawnTs("upstreams/app/server.ts", {
      PATH: process.env.PATH,
      APP_NAME: "a",
      REGION: "r",
      PORT: "http",
    });
    try {
      const exit = await service.exited;
      assert.equal(exit.code, 1);
      assert.equal(exit.stderr.trim(), "app: PORT=http is invalid; expected an integer from 0 to 65535");
    } finally {
      await service.kill();
    }
  });
});
