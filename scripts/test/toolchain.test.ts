import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, toolsDir } from "../toolchain/paths.ts";
import { versionAtLeast } from "../toolchain/commands.ts";
import { pins } from "../toolchain/versions.ts";

function tsx(script: string, env: NodeJS.ProcessEnv) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [join(repoRoot, "node_modules/tsx/dist/cli.mjs"), script], { cwd: repoRoot, env: { ...process.env, ...env }, encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}`, seconds: (performance.now() - started) / 1000 };
}

test("versionAtLeast: compares dotted versions numerically", () => {
  assert.equal(versionAtLeast("1.10.0", "1.9.2"), true);
  assert.equal(versionAtLeast("1.9.2", "1.10.0"), false);
  assert.equal(versionAtLeast("v1.8.1", "1.0.0"), true);
  assert.equal(versionAtLeast("1.5.0", "1.5.0"), true);
  assert.equal(versionAtLeast("1.4.9", "1.5"), false);
});

test("setup and doctor: a corrupted tool is reported by doctor and repaired by setup; a second setup is quick", { timeout: 600_000 }, () => {
  const tools = mkdtempSync(join(tmpdir(), "edgerim-tools-"));
  try {
    // Start from a copy of the working tools folder, then break Envoy the way an interrupted copy would.
    // The real folder: .tools may be a link to a shared one.
    const source = realpathSync(toolsDir);
    cpSync(source, tools, { recursive: true, verbatimSymlinks: true, filter: (src) => !src.includes(`${source}/tmp`) });
    rmSync(join(tools, "bin", "envoy"), { force: true });
    mkdirSync(join(tools, "bin"), { recursive: true });
    writeFileSync(join(tools, "bin", "envoy"), "#!/bin/sh\necho truncated >&2\nexit 1\n");
    chmodSync(join(tools, "bin", "envoy"), 0o755);
    const env = { EDGE_TOOLS_DIR: tools };

    const broken = tsx("scripts/doctor.ts", env);
    assert.equal(broken.code, 1, broken.out);
    assert.match(broken.out, /^envoy\s.*missing \(version probe failed/m);
    assert.match(broken.out, /envoy: missing; fix: run `npm run setup`/);

    const repaired = tsx("scripts/setup.ts", env);
    assert.equal(repaired.code, 0, repaired.out);
    assert.match(repaired.out, /installed envoy\s+\d+\.\d+\.\d+ .*was missing: version probe failed/);

    const again = tsx("scripts/setup.ts", env);
    assert.equal(again.code, 0, again.out);
    assert.doesNotMatch(again.out, /installed /, "nothing left to install");
    assert.ok(again.seconds < 10, `a setup with nothing to do took ${again.seconds.toFixed(1)} s`);

    const healthy = tsx("scripts/doctor.ts", env);
    assert.equal(healthy.code, 0, healthy.out);
    assert.match(healthy.out, /envoy loads a Wasm module with V8\s+ok/);
    assert.match(healthy.out, /^chromium\s+>= \S+ \(Debian package chromium\)\s+\d+\.\d+\.\d+\S*\s+\S+\s+ok$/m, "doctor reports Chromium");
    assert.match(healthy.out, /terraform init resolves .* offline\s+ok/);
  } finally {
    rmSync(tools, { recursive: true, force: true });
  }
});

test("pins: every README and source that names an Envoy version names the pinned one (dated records aside)", () => {
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "*.md", "*.ts"], { cwd: repoRoot, encoding: "utf8" });
  assert.equal(listed.status, 0, listed.stderr);
  // Decision records, benchmark and reliability results say what held on the day they were written.
  const dated = (file: string) => file.startsWith("docs/decisions/") || file === "docs/benchmarks.md" || file === "docs/reliability.md";
  const files = listed.stdout.split("\0").filter((file) => file !== "" && !dated(file));
  assert.ok(files.includes("filters/testing/README.md") && files.includes("filters/region-router/build.ts"));
  const [major, minor] = pins.envoy.version.split(".");
  const stale: string[] = [];
  for (const file of files) {
    for (const match of readFileSync(join(repoRoot, file), "utf8").matchAll(/\bEnvoy v?(\d+)\.(\d+)(?:\.(\d+))?\b/g)) {
      const named = match[0].replace(/^Envoy v?/, "");
      const pinned = match[3] === undefined ? match[1] === major && match[2] === minor : named === pins.envoy.version;
      if (!pinned) stale.push(`${file}: ${match[0]}`);
    }
  }
  assert.deepEqual(stale, [], `pinned: Envoy ${pins.envoy.version} (scripts/toolchain/versions.ts)`);
});
