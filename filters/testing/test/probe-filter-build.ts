// Compiles the probe fixture filter with the project's AssemblyScript toolchain and release flags.
// An -O3 build takes several seconds, so the module is kept in the system temp dir under a hash of
// everything that goes into it (older builds are pruned); test files starting together may both
// build it once.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import { repoRoot } from "../../../scripts/toolchain/paths.ts";

const run = promisify(execFile);

export const PROBE_ROOT_ID = "probe";
const FIXTURE = join(repoRoot, "filters/testing/test/fixtures/probe-filter.ts");
const ASC = join(repoRoot, "node_modules/.bin/asc");
const ASC_FLAGS = ["--use", "abort=abort_proc_exit", "-O3"];
const INPUTS = [
  FIXTURE,
  join(repoRoot, "node_modules/assemblyscript/package.json"),
  join(repoRoot, "node_modules/@solo-io/proxy-runtime/package.json"),
];
const CACHE_DIR = join(tmpdir(), "edgerim-probe-filter");

export async function buildProbeFilter(): Promise<string> {
  const hash = createHash("sha256").update(ASC_FLAGS.join(" "));
  for (const input of INPUTS) hash.update(await readFile(input));
  const wasmPath = join(CACHE_DIR, `probe-${hash.digest("hex").slice(0, 16)}.wasm`);
  if (existsSync(wasmPath)) return wasmPath;

  await mkdir(CACHE_DIR, { recursive: true });
  const buildDir = await mkdtemp(join(CACHE_DIR, "build-"));
  try {
    const output = join(buildDir, "probe.wasm");
    await run(ASC, [FIXTURE, "-b", output, ...ASC_FLAGS], { cwd: repoRoot }).catch((error: { stderr?: string }) => {
      throw new Error(`asc could not compile ${FIXTURE}:\n${error.stderr ?? ""}`, { cause: error });
    });
    await rename(output, wasmPath);
  } finally {
    await rm(buildDir, { recursive: true, force: true });
  }
  for (const name of await readdir(CACHE_DIR)) {
    if (name.startsWith("probe-") && join(CACHE_DIR, name) !== wasmPath) await rm(join(CACHE_DIR, name), { force: true });
  }
  return wasmPath;
}
