import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const toolsDir = process.env.EDGE_TOOLS_DIR ?? join(repoRoot, ".tools");
export const toolsBinDir = join(toolsDir, "bin");
export const stateDir = process.env.EDGE_STATE_DIR ?? join(repoRoot, ".edge");
/** Folders of the repository that hold no source of it: dependencies, tools, state and generated output. */
export const NON_SOURCE_DIRS: ReadonlySet<string> = new Set(["node_modules", ".git", ".tools", ".edge", "cdktf.out", "build"]);
export const providerMirrorDir = join(toolsDir, "terraform-mirror");
export const terraformCliConfig = join(toolsDir, "terraform.rc");

export type ToolName = "envoy" | "k6" | "terraform" | "chromium";

/** Path of a tool installed by `npm run setup`; `EDGE_<NAME>_BIN` overrides it. */
export function toolPath(name: ToolName): string {
  const override = process.env[`EDGE_${name.toUpperCase()}_BIN`];
  const path = override ?? join(toolsBinDir, name);
  if (!existsSync(path)) {
    throw new Error(`${name} not found at ${path}: run \`npm run setup\``);
  }
  return path;
}
