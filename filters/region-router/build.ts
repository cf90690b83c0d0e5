// npm run build:filter: compiles the region router to filters/region-router/build/region_router.wasm.
// Skips the compile when the output is newer than every input. Fails when the module is over 64 KiB,
// does not export the proxy-wasm ABI, or imports a host function Envoy would refuse to link.
// Concurrent builds (parallel test files) each work in their own temporary files and rename the
// finished module into place, so a reader never sees a partial one.
import { spawnSync } from "node:child_process";
import {
  existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "../..");
const sourceDir = join(here, "assembly");
const buildDir = join(here, "build");
export const wasmPath = join(buildDir, "region_router.wasm");
const sdkPackage = join(repoRoot, "node_modules/@solo-io/proxy-runtime");
const ascBin = join(repoRoot, "node_modules/.bin/asc");

const SIZE_LIMIT = 64 * 1024;
const SDK_VERSION = "0.1.8";
// Debug-level log statements in the SDK's runtime.ts 0.1.8 (one per line). They build their message
// on every context creation and callback, including a join of every live context id.
const SDK_DEBUG_LOGS = 34;
const debugLogLine = /^\s*log\(LogLevelValues\.debug, .*\);\s*$/;

function ascArgs(output: string, sdkLib: string): string[] {
  return [
    join(sourceDir, "index.ts"),
    "--binaryFile", output,
    "--lib", sdkLib,
    "--runtime", "half",
    "--use", "abort=abort_proc_exit",
    "-O3s", "--converge", "--noAssert",
    "--runPasses", "generate-stack-ir,optimize-stack-ir",
  ];
}

function filesIn(dir: string): string[] {
  return readdirSync(dir).map((name) => join(dir, name)).filter((path) => statSync(path).isFile());
}

class BuildError extends Error {}

function fail(message: string): never {
  throw new BuildError(`build:filter: ${message}`);
}

/**
 * Copies the SDK sources under `sdkLib` without their debug logging, which the compiler cannot
 * drop by itself (the messages are built before the host filters by level). `--lib` makes asc
 * resolve `@solo-io/proxy-runtime` to this copy.
 */
function prepareSdk(sdkLib: string): void {
  const pkg = JSON.parse(readFileSync(join(sdkPackage, "package.json"), "utf8")) as { version: string };
  if (pkg.version !== SDK_VERSION) {
    fail(`@solo-io/proxy-runtime ${pkg.version} installed, ${SDK_VERSION} expected: run \`npm ci\``);
  }
  const target = join(sdkLib, "@solo-io/proxy-runtime");
  mkdirSync(target, { recursive: true });
  let stripped = 0;
  for (const file of filesIn(join(sdkPackage, "assembly")).filter((f) => f.endsWith(".ts"))) {
    const lines = readFileSync(file, "utf8").split("\n").map((line) => {
      if (!debugLogLine.test(line)) return line;
      stripped++;
      return "";
    });
    writeFileSync(join(target, relative(join(sdkPackage, "assembly"), file)), lines.join("\n"));
  }
  if (stripped !== SDK_DEBUG_LOGS) {
    fail(`expected ${SDK_DEBUG_LOGS} debug log lines in the SDK, found ${stripped}: review build.ts for this SDK`);
  }
}

function isUpToDate(): boolean {
  if (!existsSync(wasmPath)) return false;
  const inputs = [
    ...filesIn(sourceDir),
    ...filesIn(join(sdkPackage, "assembly")),
    fileURLToPath(import.meta.url),
    join(repoRoot, "node_modules/assemblyscript/package.json"),
  ];
  const built = statSync(wasmPath).mtimeMs;
  return inputs.every((input) => statSync(input).mtimeMs < built);
}

/** Problems with the module's ABI surface, as the pinned Envoy (scripts/toolchain/versions.ts) would see them. */
function abiProblems(bytes: Buffer): string[] {
  const module = new WebAssembly.Module(new Uint8Array(bytes));
  const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`);
  const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  const problems: string[] = [];
  for (const name of imports) {
    // proxy_clear_route_cache is registered only for ABI 0.1.0: importing it makes the module unloadable.
    if (name === "env.proxy_clear_route_cache" || !/^(env\.proxy_|wasi_unstable\.)/.test(name)) {
      problems.push(`imports ${name}`);
    }
  }
  for (const name of ["proxy_abi_version_0_2_0", "malloc", "proxy_on_context_create", "proxy_on_request_headers"]) {
    if (!exports.has(name)) problems.push(`does not export ${name}`);
  }
  return problems;
}

/** Builds the module unless it is up to date; throws with the cause and the fix on failure. */
export function buildFilter(): void {
  if (isUpToDate()) {
    console.log(`build:filter: ${relative(repoRoot, wasmPath)} is up to date (${statSync(wasmPath).size} bytes)`);
    return;
  }
  if (!existsSync(ascBin)) fail(`${relative(repoRoot, ascBin)} not found: run \`npm ci\``);
  mkdirSync(buildDir, { recursive: true });
  const work = mkdtempSync(join(buildDir, "work-"));
  // The module is dated when the build started: a source saved while asc runs leaves it stale.
  const started = statSync(work).mtime;
  try {
    const output = join(work, "region_router.wasm");
    prepareSdk(join(work, "sdk"));
    const result = spawnSync(ascBin, ascArgs(output, join(work, "sdk")), { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
    if (result.status !== 0) fail(`asc failed (exit ${result.status ?? result.signal})`);
    const bytes = readFileSync(output);
    const problems = abiProblems(bytes);
    const size = `${bytes.length} bytes (${(bytes.length / 1024).toFixed(1)} KiB, limit ${SIZE_LIMIT / 1024} KiB)`;
    if (bytes.length > SIZE_LIMIT) problems.push(`is ${size}`);
    if (problems.length > 0) fail(`region_router.wasm ${problems.join("; ")}`);
    utimesSync(output, started, started);
    renameSync(output, wasmPath);
    console.log(`build:filter: ${relative(repoRoot, wasmPath)}: ${size}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    buildFilter();
  } catch (error) {
    console.error(error instanceof BuildError ? error.message : error);
    process.exitCode = 1;
  }
}
