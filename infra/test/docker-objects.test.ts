import { test } from "node:test";
import assert from "node:assert/strict";
import { parseHostPorts, unhealthyContainers } from "../commands/docker-objects.ts";

test("parseHostPorts: each published host address and port of `docker ps` output; exposed-only ports are not host ports", () => {
  assert.deepEqual(parseHostPorts("127.0.0.1:28001->8080/tcp, 127.0.0.1:29001->9901/tcp\n0.0.0.0:30443->8443/tcp, [::]:30443->8443/tcp\n8080/tcp\n"), [
    { address: "127.0.0.1", port: 28001 },
    { address: "127.0.0.1", port: 29001 },
    { address: "0.0.0.0", port: 30443 },
    { address: "[::]", port: 30443 },
  ]);
  assert.deepEqual(parseHostPorts(""), []);
});

test("unhealthyContainers: every expected container running and healthy is none; an absent one is missing, a bad one is named", () => {
  const healthy = (name: string) => ({ name, state: "running", health: "healthy" });
  assert.deepEqual(unhealthyContainers([healthy("a"), healthy("b")], ["a", "b"]), []);
  assert.deepEqual(unhealthyContainers([healthy("a"), { name: "b", state: "running", health: "starting" }, { name: "x", state: "exited", health: "none" }], ["a", "b", "c"]), [
    { name: "b", state: "running", health: "starting" },
    { name: "x", state: "exited", health: "none" },
    { name: "c", state: "missing", health: "none" },
  ]);
});
