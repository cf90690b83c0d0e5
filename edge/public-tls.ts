import { readFileSync, renameSync, writeFileSync, mkdirSync, chmodSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Topology } from "../infra/topology/model.ts";
import { popId, popPublicName } from "../infra/topology/names.ts";
import { ensurePopPki, type BackbonePki, type CertificateSubject, type PkiOptions } from "./backbone-pki.ts";
import type { DownstreamTlsTransportSocket, SdsSecretFile } from "./envoy-api.ts";

/**
 * TLS on every POP's public listener. The certificates come from a public CA of their own, never
 * the backbone's: a backbone listener trusts only the backbone CA, so no public certificate (whose
 * key sits wherever TLS is terminated for clients) can authenticate as a backbone peer.
 *
 * Each POP's certificate names the POP's public name, every tenant host of the topology (any POP
 * may be a tenant's entry), `localhost` and 127.0.0.1 (the address the POPs are published on).
 * Explicit names, not a wildcard: tenant hosts are arbitrary domains, and a wildcard would also
 * cover names the topology never declared. A client naming anything else (SNI or none) gets the
 * same certificate, and its own verification refuses it.
 *
 * Envoy reads the certificate through SDS from a file in a watched directory; replacing the file
 * by a rename (writeSdsFile) makes every worker serve the new certificate with no restart.
 */

export const PUBLIC_TLS_STATE_SUBDIR = "public-tls";
export const PUBLIC_TLS_SECRET = "public";
export const PUBLIC_ALPN = ["h2", "http/1.1"];
const SDS_FILE = "pop.yaml";

/** Where a POP's proxy finds its SDS file and the directory Envoy watches for it. */
export interface PublicTlsFiles {
  sdsPath: string;
  watchedDir: string;
}

export type PublicTlsPaths = (region: string, pop: string) => PublicTlsFiles;

export function publicPopSubject(topology: Topology, region: string, pop: string): CertificateSubject {
  const name = popPublicName(topology.tls.domain, region, pop);
  const tenants = [...new Set(topology.tenants.map((tenant) => tenant.host))].filter((host) => host !== name);
  return { commonName: name, uris: [], dnsNames: [name, ...tenants, "localhost"], ips: ["127.0.0.1"] };
}

export interface PublicPki extends BackbonePki {
  /** Each POP's SDS file as a proxy on this host sees it (loopback processes, validation, the deploy's upload). */
  sdsFile: PublicTlsPaths;
}

/**
 * Reuses or creates the public CA and every POP's certificate under `dir` (the backbone's reuse
 * rules), and writes each POP's SDS file at `<dir>/sds/<pop id>/pop.yaml`. `reissue` issues every
 * POP a new certificate (a rotation); the SDS files change by rename only.
 */
export function ensurePublicPki(topology: Topology, dir: string, options: PkiOptions & { reissue?: boolean } = {}): PublicPki {
  const pki = ensurePopPki(topology, dir, `${topology.project} public CA`, (region, pop) => publicPopSubject(topology, region, pop), options);
  const sdsFile = (region: string, pop: string): PublicTlsFiles => {
    const watchedDir = join(dir, "sds", popId(region, pop));
    return { sdsPath: join(watchedDir, SDS_FILE), watchedDir };
  };
  for (const cert of pki.pops) {
    writeSdsFile(sdsFile(cert.region, cert.pop).sdsPath, readFileSync(cert.certPath, "utf8"), readFileSync(cert.keyPath, "utf8"));
  }
  return { ...pki, sdsFile };
}

function sdsDocument(certPem: string, keyPem: string): SdsSecretFile {
  return {
    resources: [{
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
      name: PUBLIC_TLS_SECRET,
      tls_certificate: { certificate_chain: { inline_string: certPem }, private_key: { inline_string: keyPem } },
    }],
  };
}

/** The SDS file's text: JSON, which Envoy reads as YAML. */
function sdsText(certPem: string, keyPem: string): string {
  return `${JSON.stringify(sdsDocument(certPem, keyPem), null, 2)}\n`;
}

/** Writes the SDS file by a rename in its own directory: Envoy's watch sees one complete file. */
export function writeSdsFile(path: string, certPem: string, keyPem: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const pending = join(dirname(path), `.${process.pid}.pending`);
  writeFileSync(pending, sdsText(certPem, keyPem), { mode: 0o600 });
  chmodSync(pending, 0o600);
  renameSync(pending, path);
}

/** TLS 1.2 and 1.3 (1.3 when both sides have it), ALPN h2 then http/1.1, the certificate from SDS. */
export function publicListenerTls(files: PublicTlsFiles): DownstreamTlsTransportSocket {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: "TLSv1_2", tls_maximum_protocol_version: "TLSv1_3" },
        tls_certificate_sds_secret_configs: [{
          name: PUBLIC_TLS_SECRET,
          sds_config: { path_config_source: { path: files.sdsPath, watched_directory: { path: files.watchedDir } }, resource_api_version: "V3" },
        }],
        alpn_protocols: PUBLIC_ALPN,
      },
      require_client_certificate: false,
    },
  };
}
