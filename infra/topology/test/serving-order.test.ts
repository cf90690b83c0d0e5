import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_TOPOLOGY_PATH, loadTopology, validateTopology } from "../load.ts";
import { servingOrder } from "../inventory.ts";
import type { AppPlacement, Residency } from "../model.ts";
import { validRaw, withRegion } from "./fixtures.ts";

// Regions in topology order: north (eu), south (us), west (eu), east (us).
function servingOrders(placement: AppPlacement, residency: Residency = "none"): (owner: string) => string[] {
  const raw = withRegion(withRegion(validRaw(), "west", "eu"), "east", "us");
  raw.apps[0].placement = placement;
  raw.apps[0].residency = residency;
  const topology = validateTopology(raw);
  return (owner) => servingOrder(topology, topology.apps[0]!, owner);
}

describe("servingOrder", () => {
  it("servingOrder: owner-only is the owner alone", () => {
    const order = servingOrders("owner-only");
    assert.deepEqual(order("north"), ["north"]);
    assert.deepEqual(order("east"), ["east"]);
  });

  it("servingOrder: a failover list keeps its order after the owner, without repeating the owner", () => {
    const order = servingOrders({ failover: ["east", "north", "west"] });
    assert.deepEqual(order("north"), ["north", "east", "west"]);
    assert.deepEqual(order("south"), ["south", "east", "north", "west"]);
  });

  it("servingOrder: same-jurisdiction is the owner, then its jurisdiction's other regions in topology order", () => {
    const order = servingOrders({ failover: "same-jurisdiction" });
    assert.deepEqual(order("west"), ["west", "north"]);
    assert.deepEqual(order("south"), ["south", "east"]);
  });

  it("servingOrder: any is the owner, then every other region in topology order", () => {
    const order = servingOrders({ failover: "any" });
    assert.deepEqual(order("west"), ["west", "north", "south", "east"]);
    assert.deepEqual(order("north"), ["north", "south", "west", "east"]);
  });

  it("servingOrder: residency keeps any inside the owner's jurisdiction, the same as same-jurisdiction", () => {
    const any = servingOrders({ failover: "any" }, "jurisdiction");
    const same = servingOrders({ failover: "same-jurisdiction" }, "jurisdiction");
    for (const owner of ["north", "south", "west", "east"]) assert.deepEqual(any(owner), same(owner), owner);
    assert.deepEqual(any("west"), ["west", "north"]);
    assert.deepEqual(any("south"), ["south", "east"]);
  });

  it("servingOrder: a residency-bound list serves its own jurisdiction's owners; other owners get their region alone", () => {
    const order = servingOrders({ failover: ["west", "north"] }, "jurisdiction");
    assert.deepEqual(order("north"), ["north", "west"]);
    assert.deepEqual(order("west"), ["west", "north"]);
    assert.deepEqual(order("south"), ["south"]);
    assert.deepEqual(order("east"), ["east"]);
  });

  it("servingOrder: in the default topology catalog fails over anywhere and orders never leaves its owner region", () => {
    const topology = loadTopology(DEFAULT_TOPOLOGY_PATH);
    const regions = topology.regions.map((region) => region.name);
    for (const owner of regions) {
      const catalog = servingOrder(topology, topology.apps.find((app) => app.name === "catalog")!, owner);
      assert.deepEqual(catalog, [owner, ...regions.filter((region) => region !== owner)]);
      assert.deepEqual(servingOrder(topology, topology.apps.find((app) => app.name === "orders")!, owner), [owner]);
    }
  });
});
