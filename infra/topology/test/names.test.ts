import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { stringify } from "yaml";
import { parseTopology } from "../load.ts";
import { backboneHostPort, listContainers, publishedHostPorts, replicaCount } from "../inventory.ts";
import {
  appContainer, discoveryContainer, ingressContainer, localCluster, peerCluster, popContainer, popId, popSpiffeId,
} from "../names.ts";
import { validRaw } from "./fixtures.ts";

describe("derived names", () => {
  it("Names: follow the shared naming contract", () => {
    assert.equal(popId("north", "p1"), "north-p1");
    assert.equal(popContainer("shop", "north", "p1"), "shop-pop-north-p1");
    assert.equal(popSpiffeId("shop", "north", "p1"), "spiffe://shop/region/north/pop/p1");
    assert.equal(ingressContainer("shop", "north", 1), "shop-ingress-north-1");
    assert.equal(appContainer("shop", "cart", "north", 2), "shop-app-cart-north-2");
    assert.equal(discoveryContainer("shop", "north"), "shop-discovery-north");
    assert.equal(localCluster("cart", "north"), "cart-north");
    assert.equal(peerCluster("south"), "edge-router-south");
  });

  it("Inventory: lists one container per POP, ingress replica, app replica and region discovery", () => {
    const topology = parseTopology(stringify(validRaw()), "inline");
    const names = listContainers(topology).map((container) => container.name);
    assert.deepEqual(names, [
      "shop-pop-north-p1",
      "shop-pop-north-p2",
      "shop-ingress-north-1",
      "shop-app-cart-north-1",
      "shop-app-search-north-1",
      "shop-app-search-north-2",
      "shop-discovery-north",
      "shop-pop-south-p1",
      "shop-ingress-south-1",
      "shop-app-cart-south-1",
      "shop-app-search-south-1",
      "shop-discovery-south",
    ]);
    assert.equal(replicaCount(topology.regions[0]!, "search"), 2);
  });

  it("Inventory: backbone host ports are published only with dockerHost, at backbonePort + POP index", () => {
    const raw = validRaw();
    const local = parseTopology(stringify(raw), "inline");
    assert.equal(backboneHostPort(local.regions[0]!, 1), undefined);
    raw.regions[0].dockerHost = "ssh://north.hosts.test";
    raw.regions[0].backboneAddress = "north.hosts.test";
    raw.regions[0].backbonePort = 28500;
    raw.regions[1].dockerHost = "ssh://south.hosts.test";
    raw.regions[1].backboneAddress = "south.hosts.test";
    raw.regions[1].backbonePort = 28600;
    const remote = parseTopology(stringify(raw), "inline");
    assert.equal(backboneHostPort(remote.regions[0]!, 1), 28501);
    assert.deepEqual(
      publishedHostPorts(remote).map((claim) => claim.port).sort(),
      [28001, 28002, 28011, 28500, 28501, 28600, 29001, 29002, 29011],
    );
    assert.deepEqual(new Set(publishedHostPorts(remote).map((claim) => claim.dockerHost)), new Set(["ssh://north.hosts.test", "ssh://south.hosts.test"]));
    assert.deepEqual(new Set(publishedHostPorts(local).map((claim) => claim.dockerHost)), new Set([undefined]), "local regions publish on this host");
  });
});
