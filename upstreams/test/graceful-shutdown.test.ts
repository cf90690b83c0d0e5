import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { test } from "node:test";
import { startAppServer } from "../app/server.ts";
import { listeningPort, spawnTs } from "./service-processes.ts";

interface Reply {
  status: number;
  body: string;
}

function http1Get(url: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("app: SIGTERM refuses new connections, finishes the in-flight request, then exits 0", async () => {
  const service = spawnTs("upstreams/app/server.ts", {
    PATH: process.env.PATH,
    APP_NAME: "orders",
    REGION: "region-a",
    HOST: "127.0.0.1",
    PORT: "0",
    RESPONSE_DELAY_MS: "800",
  });
  try {
    const port = await listeningPort(service);
    const started = Date.now();
    const inFlight = http1Get(`http://127.0.0.1:${port}/orders/1`);
    await sleep(200);
    service.child.kill("SIGTERM");
    await sleep(100);
    assert.equal(await connects(port), false, "a new connection was accepted after SIGTERM");
    const reply = await inFlight;
    assert.equal(reply.status, 200);
    assert.equal(JSON.parse(reply.body).path, "/orders/1");
    assert.ok(Date.now() - started >= 800, "the reply came before the simulated service time");
    const exit = await service.exited;
    assert.equal(exit.code, 0, exit.stderr);
    const events = exit.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).msg);
    assert.deepEqual(events, ["listening", "draining", "stopped"]);
  } finally {
    await service.kill();
  }
});

test("app: close() sends GOAWAY on h2c sessions and still completes their open streams", async () => {
  const app = await startAppServer({ app: "catalog", region: "region-a", responseDelayMs: 400 });
  const session = http2.connect(app.url);
  try {
    let goaway = false;
    session.on("goaway", () => (goaway = true));
    session.on("error", () => {});
    // The server's SETTINGS mean it accepted the session: close() cannot race the connect any more.
    await new Promise((resolve) => session.once("remoteSettings", resolve));
    const reply = new Promise<Reply>((resolve, reject) => {
      const stream = session.request({ ":path": "/catalog/open" });
      let status = 0;
      let body = "";
      stream.on("response", (headers) => (status = Number(headers[":status"])));
      stream.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      stream.on("end", () => resolve({ status, body }));
      stream.on("error", reject);
    });
    await sleep(100);
    let closed = false;
    const closing = app.close().then(() => (closed = true));
    await sleep(50);
    assert.equal(closed, false, "close() resolved while a stream was still open");
    const answered = await reply;
    assert.equal(answered.status, 200);
    assert.equal(JSON.parse(answered.body).path, "/catalog/open");
    await closing;
    assert.equal(goaway, true);
  } finally {
    session.destroy();
    await app.close();
  }
});

test("app: connections still busy at the drain deadline are cut and close() returns", async () => {
  const app = await startAppServer({
    app: "catalog",
    region: "region-a",
    responseDelayMs: 5_000,
    drainDeadlineMs: 200,
  });
  const stuck = http1Get(`${app.url}/catalog/slow`).then(
    () => "answered",
    (error: NodeJS.ErrnoException) => error.code,
  );
  await sleep(100);
  const started = Date.now();
  await app.close();
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 190 && elapsed < 2_000, `close() took ${elapsed} ms`);
  assert.equal(await stuck, "ECONNRESET");
});

test("app: an idle keep-alive connection does not hold up shutdown", async () => {
  const app = await startAppServer({ app: "catalog", region: "region-a", drainDeadlineMs: 5_000 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const reply = await new Promise<number>((resolve, reject) => {
      http
        .get(`${app.url}/catalog`, { agent }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        })
        .on("error", reject);
    });
    assert.equal(reply, 200);
    const started = Date.now();
    await app.close();
    assert.ok(Date.now() - started < 1_000, "close() waited for an idle connection");
  } finally {
    agent.destroy();
  }
});
