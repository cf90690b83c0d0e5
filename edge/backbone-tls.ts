import type { Region, Topology } from "../infra/topology/model.ts";
import { findRegion } from "../infra/topology/inventory.ts";
import { peerCluster, popSpiffeId } from "../infra/topology/names.ts";
import type {
  CommonTlsContext, DownstreamTlsTransportSocket, SubjectAltNameMatcher, UpstreamTlsTransportSocket,
} from "./envoy-api.ts";

/**
 * Mutual TLS on the backbone: a POP serves its backbone listener only to clients holding a
 * certificate from the backbone CA that names a POP of the topology, and dials a peer region only
 * when the server's certificate names one of that region's POPs. Both sides speak h2 only.
 */

/** A POP's backbone TLS material, as that POP's Envoy sees the paths. */
export interface BackboneTlsFiles {
  caCertPath: string;
  certPath: string;
  keyPath: string;
}

/** Where the proxy of POP (region, pop) finds its backbone TLS material. */
export type BackboneTlsPaths = (region: string, pop: string) => BackboneTlsFiles;

export const BACKBONE_ALPN = ["h2"];

/** One URI SAN matcher per POP of the given regions. */
export function popIdentityMatchers(project: string, regions: Region[]): SubjectAltNameMatcher[] {
  return regions.flatMap((region) =>
    region.pops.map((pop) => ({ san_type: "URI" as const, matcher: { exact: popSpiffeId(project, region.name, pop.name) } })),
  );
}

function commonTlsContext(files: BackboneTlsFiles, peers: SubjectAltNameMatcher[]): CommonTlsContext {
  return {
    tls_params: { tls_minimum_protocol_version: "TLSv1_2", tls_maximum_protocol_version: "TLSv1_3" },
    tls_certificates: [{ certificate_chain: { filename: files.certPath }, private_key: { filename: files.keyPath } }],
    validation_context: { trusted_ca: { filename: files.caCertPath }, match_typed_subject_alt_names: peers },
    alpn_protocols: BACKBONE_ALPN,
  };
}

/** The backbone listener's TLS: a client certificate from the CA naming any POP of the topology is required. */
export function backboneListenerTls(topology: Topology, files: BackboneTlsFiles): DownstreamTlsTransportSocket {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
      common_tls_context: commonTlsContext(files, popIdentityMatchers(topology.project, topology.regions)),
      require_client_certificate: true,
    },
  };
}

/**
 * TLS of cluster `edge-router-<peerRegion>` (health checks included): presents this POP's
 * certificate and accepts only a server naming a POP of `peerRegion`, so a POP of another region
 * cannot answer for it. SNI names the cluster; the server has one certificate and does not select by it.
 */
export function peerClusterTls(topology: Topology, peerRegion: string, files: BackboneTlsFiles): UpstreamTlsTransportSocket {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
      common_tls_context: commonTlsContext(files, popIdentityMatchers(topology.project, [findRegion(topology, peerRegion)])),
      sni: peerCluster(peerRegion),
    },
  };
}
