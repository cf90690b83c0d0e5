import type { Topology } from "../infra/topology/model.ts";
import type { FaultFilter, HeaderValueOption } from "./envoy-api.ts";
import { FROM_REGION_HEADER } from "./headers.ts";

/**
 * The emulated wide-area network (topology `wan.rttMs`). There is no netem here, so the delay lives in
 * the data path: every POP names its own region on what it forwards (FROM_REGION_HEADER, set by its
 * route configurations), and a receiving POP's backbone listener holds a request from another region
 * for that pair's whole round-trip time before handling it (Envoy's fault filter, a fixed delay per
 * source region). A sideways hop thus costs one RTT, as a request and its response crossing that
 * distance would. Health checks carry no such header and are never delayed.
 */

/** The declared round trip between two regions; 0 when the pair is not listed or there is no WAN. */
export function rttMs(topology: Topology, a: string, b: string): number {
  const table = topology.wan?.rttMs ?? {};
  return table[`${a}/${b}`] ?? table[`${b}/${a}`] ?? 0;
}

/** The route configurations' header naming the forwarding POP's region; none without a WAN. */
export function fromRegionHeaders(topology: Topology, region: string): HeaderValueOption[] {
  return topology.wan ? [{ header: { key: FROM_REGION_HEADER, value: region }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }] : [];
}

/** The backbone listener's delays: one fault filter per other region with a round trip. */
export function wanDelayFilters(topology: Topology, region: string): FaultFilter[] {
  return topology.regions
    .filter((peer) => peer.name !== region && rttMs(topology, peer.name, region) > 0)
    .map((peer) => ({
      name: "envoy.filters.http.fault",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
        delay: { fixed_delay: `${rttMs(topology, peer.name, region) / 1000}s`, percentage: { numerator: 100, denominator: "HUNDRED" } },
        headers: [{ name: FROM_REGION_HEADER, string_match: { exact: peer.name } }],
        // Every request from that region waits, however many are in flight (the default also has no
        // limit; said here so no runtime key can cap it).
        max_active_faults: 4_294_967_295,
      },
    }));
}
