// The POPs' token check (jwt_authn) reaches Envoy through ECDS from a file in a watched directory,
// keys inline. A JWKS rotation rewrites that file and Envoy applies it to new requests in place: no
// restart, no listener drain, open connections kept. A file Envoy rejects leaves the last good one
// in force (Envoy counts it as the filter's `extension_config_discovery` `config_fail`).
import { createHash } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Topology } from "../infra/topology/model.ts";
import type { Jwks } from "../upstreams/tokens/keys.ts";
import { CLAIM_HEADER } from "./headers.ts";
import type { DiscoveredFilter, JwtAuthentication } from "./envoy-api.ts";

export const JWT_PROVIDER = "users";
export const JWT_FILTER = "envoy.filters.http.jwt_authn";
const JWT_AUTHN_TYPE = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";

/** Slack on exp and nbf (Envoy's default, stated): a retiring key outlives the longest TTL by this much. */
export const JWT_CLOCK_SKEW_SECONDS = 60;

/**
 * Verified tokens each worker remembers. RS256 verification is most of jwt_authn's cost
 * (docs/benchmarks.md); a client reuses its token, so a hit skips it. Expiry is still checked on
 * every request.
 */
const JWT_CACHE_SIZE = 4096;

/** Where a proxy reads its jwt_authn config: the file, and the directory whose moves Envoy watches. */
export interface JwtAuthnFiles {
  path: string;
  watchedDir: string;
}

/** How long a rotated-out key stays published: every token it signed has expired by then, skew included. */
export function retiringKeySeconds(topology: Topology): number {
  return topology.jwt.maxTokenTtlSeconds + JWT_CLOCK_SKEW_SECONDS;
}

/** jwt_authn's config for `jwks`. Without a token a request passes (the tenant lookup decides); a bad token is a 401. */
export function jwtAuthentication(topology: Topology, jwks: Jwks): JwtAuthentication {
  return {
    "@type": JWT_AUTHN_TYPE,
    providers: {
      [JWT_PROVIDER]: {
        issuer: topology.jwt.issuer,
        audiences: topology.jwt.audiences,
        local_jwks: { inline_string: JSON.stringify(jwks) },
        forward: true,
        claim_to_headers: [{ header_name: CLAIM_HEADER, claim_name: topology.jwt.regionClaim }],
        clock_skew_seconds: JWT_CLOCK_SKEW_SECONDS,
        // No clear_route_cache: routes match on path and method, never on the claim, and the
        // region router's header change clears the route cache anyway (ABI 0.2).
        jwt_cache_config: { jwt_cache_size: JWT_CACHE_SIZE },
      },
    },
    rules: [
      {
        match: { prefix: "/" },
        requires: { requires_any: { requirements: [{ provider_name: JWT_PROVIDER }, { allow_missing: {} }] } },
      },
    ],
  };
}

/**
 * Changes with what the topology says about tokens, never with the keys: a container is replaced for
 * a new issuer or audience, while a key rotation is written into the running containers.
 */
export function jwtAuthnSettingsVersion(topology: Topology): string {
  return createHash("sha256").update(JSON.stringify(jwtAuthentication(topology, { keys: [] }))).digest("hex").slice(0, 16);
}

/** The ECDS file: one TypedExtensionConfig named like the filter, versioned by its content. */
export function jwtAuthnDiscoveryText(topology: Topology, jwks: Jwks): string {
  const config = jwtAuthentication(topology, jwks);
  const version = createHash("sha256").update(JSON.stringify(config)).digest("hex").slice(0, 16);
  const resource = { "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig", name: JWT_FILTER, typed_config: config };
  return `${JSON.stringify({ version_info: version, resources: [resource] }, null, 2)}\n`;
}

/** The ECDS file in `dir`, a directory of its own (any move into it makes Envoy read the file again). */
export function jwtAuthnFilesIn(dir: string): JwtAuthnFiles {
  return { path: join(dir, "jwt-authn.json"), watchedDir: dir };
}

/** Writes the ECDS file whole (temp file, then a rename in the same directory): Envoy never reads half of it. */
export function writeJwtAuthn(dir: string, topology: Topology, jwks: Jwks): JwtAuthnFiles {
  const files = jwtAuthnFilesIn(dir);
  mkdirSync(dir, { recursive: true });
  const pending = join(dir, `.jwt-authn.${process.pid}.tmp`);
  writeFileSync(pending, jwtAuthnDiscoveryText(topology, jwks), { mode: 0o644 });
  renameSync(pending, files.path);
  return files;
}

/** The POP's jwt_authn filter, its config discovered from `files`. */
export function jwtAuthnFilter(files: JwtAuthnFiles): DiscoveredFilter {
  return {
    name: JWT_FILTER,
    config_discovery: {
      config_source: { path_config_source: { path: files.path, watched_directory: { path: files.watchedDir } }, resource_api_version: "V3" },
      type_urls: [JWT_AUTHN_TYPE],
    },
  };
}
