// npm test / npm run test:unit: builds the filter, then runs the test tiers with Node's test runner.
//   unit   - everything that needs no Docker Engine: unit tests, the Wasm test host, real Envoy on loopback
//   docker - end-to-end tests against a real Docker Engine (deploy, k6, destroy)
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { NON_SOURCE_DIRS, repoRoot } from "./toolchain/paths.ts";

type Tier = "unit" | "docker";

function testFiles(dir: string, found: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    if (NON_SOURCE_DIRS.has(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) testFiles(path, found);
    else if (entry.endsWith(".test.ts")) found.push(relative(repoRoot, path));
  }
  return found.sort();
}

const tierOf = (file: string): Tier => (file.split("/").includes("e2e") ? "docker" : "unit");

function runNode(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d;
      process.stdout.write(d);
    });
    child.stderr.on("data", (d: Buffer) => process.stderr.write(d));
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

function count(output: string, what: "pass" | "fail" | "skipped"): number {
  return [...output.matchAll(new RegExp(`^\\S*\\s*${what} (\\d+)$`, "gm"))].reduce((n, m) => n + Number(m[1]), 0);
}

async function main(): Promise<number> {
  const which = (process.argv[2] ?? "all") as "all" | Tier;
  const tiers: Tier[] = which === "all" ? ["unit", "docker"] : [which];
  const build = await runNode([join(repoRoot, "node_modules/tsx/dist/cli.mjs"), "filters/region-router/build.ts"]);
  if (build.code !== 0) {
    console.error("test: the filter build failed; nothing was tested");
    return 1;
  }
  const files = testFiles(repoRoot);
  let passed = 0;
  let failed = 0;
  let code = 0;
  for (const tier of tiers) {
    const tierFiles = files.filter((f) => tierOf(f) === tier);
    if (tierFiles.length === 0) continue;
    const started = performance.now();
    console.log(`\n== ${tier} tier: ${tierFiles.length} file(s)`);
    // One file at a time: a loopback file runs a dozen Envoys with 1 s health-check timeouts on two
    // CPUs, and two such files at once starve each other's checks until healthy hosts are counted out
    // (seen as stray 503s in the soak and in the placement test).
    const r = await runNode([
      "--import", "tsx", "--test", "--test-reporter=spec",
      "--test-concurrency=1", ...tierFiles,
    ]);
    passed += count(r.output, "pass");
    failed += count(r.output, "fail");
    console.log(`== ${tier} tier finished in ${((performance.now() - started) / 1000).toFixed(1)}s (exit ${r.code})`);
    if (r.code !== 0) code = r.code;
  }
  console.log(`\ntests: ${passed} passed, ${failed} failed`);
  return passed === 0 ? 1 : code;
}

process.exitCode = await main();
