import type { Address, Duration } from "./envoy-api.ts";
import type { Endpoint } from "./placement.ts";

/** The topology's values in the form Envoy's fields take them. */

export function seconds(milliseconds: number): Duration {
  return `${milliseconds / 1000}s`;
}

export function address(endpoint: Endpoint): Address {
  return { socket_address: { address: endpoint.address, port_value: endpoint.port } };
}
