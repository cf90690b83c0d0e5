// Everything constant the router hands the host, encoded once at plugin start: header names,
// cluster values, region names, and every x-edge-route value this POP can send. The request path
// then only looks them up by index.

import { RouterConfig } from "./config";
import { encode } from "./proxy_host";
import { SOURCE_COUNT, routeHeaderValue, sourceName } from "./routing";

/** Positions in Wire.requestHeaders. */
export enum RequestHeader { Path, Owner, Claim, Authority, Hops, ContentType }

export class Wire {
  path: ArrayBuffer = encode(":path");
  authority: ArrayBuffer = encode(":authority");
  status: ArrayBuffer = encode(":status");
  contentType: ArrayBuffer = encode("content-type");
  clusterHeader: ArrayBuffer;
  claimHeader: ArrayBuffer;
  hopHeader: ArrayBuffer;
  ownerHeader: ArrayBuffer;
  sourceHeader: ArrayBuffer;
  popHeader: ArrayBuffer;
  routeHeader: ArrayBuffer;
  servedHeader: ArrayBuffer;
  pop: ArrayBuffer;
  /** By app index: the app's local cluster. */
  localClusters: Array<ArrayBuffer> = [];
  /** By app index, then owner region index: the failover cluster (empty for an owner-only placement). */
  failoverClusters: Array<Array<ArrayBuffer>> = [];
  /** By region index: the region's name and its peer cluster. */
  regions: Array<ArrayBuffer> = [];
  peerClusters: Array<ArrayBuffer> = [];
  /** By OwnerSource. */
  sources: Array<ArrayBuffer> = [];
  /** By hop count 0..maxHops. */
  hops: Array<ArrayBuffer> = [];
  /** x-edge-route values by `decision(region, source, hops)`. */
  routes: Array<ArrayBuffer> = [];
  maxHops: i32;
  /** The request headers the router reads, in the order of RequestHeader. */
  requestHeaders: Array<ArrayBuffer>;

  constructor(config: RouterConfig) {
    this.clusterHeader = encode(config.clusterHeader);
    this.claimHeader = encode(config.claimHeader);
    this.hopHeader = encode(config.hopHeader);
    this.ownerHeader = encode(config.ownerHeader);
    this.sourceHeader = encode(config.sourceHeader);
    this.popHeader = encode(config.popHeader);
    this.routeHeader = encode(config.routeHeader);
    this.servedHeader = encode(config.servedHeader);
    this.pop = encode(config.pop);
    this.requestHeaders = [this.path, this.ownerHeader, this.claimHeader, this.authority, this.hopHeader, this.contentType];
    this.maxHops = config.maxHops;
    for (let i = 0; i < config.apps.length; i++) {
      let app = config.apps[i];
      this.localClusters.push(encode(app.localCluster));
      let clusters: Array<ArrayBuffer> = [];
      for (let r = 0; r < app.failoverClusters.length; r++) clusters.push(encode(app.failoverClusters[r]));
      this.failoverClusters.push(clusters);
    }
    for (let i = 0; i < SOURCE_COUNT; i++) this.sources.push(encode(sourceName(i)));
    for (let h = 0; h <= config.maxHops; h++) this.hops.push(encode(h.toString()));
    for (let r = 0; r < config.regions.length; r++) {
      let region = config.regions[r];
      this.regions.push(encode(region));
      this.peerClusters.push(encode(config.peerClusters[r]));
      for (let source = 0; source < SOURCE_COUNT; source++) {
        for (let h = 0; h <= config.maxHops; h++) {
          this.routes.push(encode(routeHeaderValue(region, source, config.pop, h)));
        }
      }
    }
  }

  /** Index in `routes` of the decision for region index `region` found from `source` after `hops` hops. */
  decision(region: i32, source: i32, hops: i32): i32 {
    return (region * SOURCE_COUNT + source) * (this.maxHops + 1) + hops;
  }
}
