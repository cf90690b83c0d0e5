// Arm B: a Lua filter that makes the region router's claim-path decision. Everything it names
// comes from the filter's own configuration (regionRouterConfig), so both arms route alike.
import type { RegionRouterConfig } from "../../edge/filter-config.ts";

const lua = (text: string) => JSON.stringify(text);
const fill = (pattern: string, values: Record<string, string>) =>
  Object.entries(values).reduce((text, [key, value]) => text.replaceAll(`{${key}}`, value), pattern);

/**
 * Reads the claim header: the local region goes to the app's local cluster, another listed region
 * to its peer cluster, anything else is a 403; a path under no app prefix is a 404. The app is the
 * longest matching prefix (`/p` matches `/p`, `/p/...`, `/p?...`), as in the filter.
 */
export function luaRouterSource(config: RegionRouterConfig): string {
  const apps = [...config.apps].sort((a, b) => b.prefix.length - a.prefix.length);
  const appRows = apps.map((app) => `  { prefix = ${lua(app.prefix)}, cluster = ${lua(fill(config.localClusterPattern, { app: app.app, region: config.region }))} },`);
  const peerRows = config.regions
    .filter((region) => region !== config.region)
    .map((region) => `  [${lua(region)}] = ${lua(fill(config.peerClusterPattern, { region }))},`);
  return [
    `local claim_header = ${lua(config.claimHeader)}`,
    `local cluster_header = ${lua(config.clusterHeader)}`,
    `local region = ${lua(config.region)}`,
    "local apps = {",
    ...appRows,
    "}",
    "local peers = {",
    ...peerRows,
    "}",
    "",
    "local function app_of(path)",
    "  for _, app in ipairs(apps) do",
    "    local n = #app.prefix",
    "    if path:sub(1, n) == app.prefix then",
    "      local after = path:sub(n + 1, n + 1)",
    '      if after == "" or after == "/" or after == "?" then return app end',
    "    end",
    "  end",
    "  return nil",
    "end",
    "",
    "function envoy_on_request(handle)",
    "  local headers = handle:headers()",
    '  local app = app_of(headers:get(":path") or "")',
    "  if app == nil then",
    '    handle:respond({ [":status"] = "404" }, "no_app")',
    "    return",
    "  end",
    "  local owner = headers:get(claim_header)",
    "  local cluster",
    "  if owner == region then cluster = app.cluster else cluster = peers[owner or \"\"] end",
    "  if cluster == nil then",
    '    handle:respond({ [":status"] = "403" }, "unknown_region")',
    "    return",
    "  end",
    "  headers:replace(cluster_header, cluster)",
    // The route was chosen before this filter ran; without this the old (missing) header decides.
    "  handle:clearRouteCache()",
    "end",
    "",
  ].join("\n");
}
