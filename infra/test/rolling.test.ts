import assert from "node:assert/strict";
import { test } from "node:test";
import { replacedIn, type PopResource } from "../commands/rolling.ts";

const pop = (id: string): PopResource => ({ id, region: "north", container: `shop-pop-${id}`, address: `docker_container.pop-${id}_envoy_0000` });

test("rolling: a POP the plan deletes and creates is rolled, in topology order; an in-place update or no-op is not", () => {
  const pops = [pop("a"), pop("b"), pop("c"), pop("d")];
  const plan = {
    resource_changes: [
      { address: pops[2]!.address, change: { actions: ["delete", "create"] } },
      { address: pops[0]!.address, change: { actions: ["create", "delete"] } },
      { address: pops[1]!.address, change: { actions: ["update"] } },
      { address: pops[3]!.address, change: { actions: ["no-op"] } },
      { address: "docker_container.datacenter_ingress", change: { actions: ["delete", "create"] } },
    ],
  };
  assert.deepEqual(replacedIn(plan, pops).map((p) => p.id), ["a", "c"]);
  assert.deepEqual(replacedIn({}, pops), []);
});
