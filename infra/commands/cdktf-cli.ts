import { spawn } from "node:child_process";
import { delimiter, join } from "node:path";
import { repoRoot, terraformCliConfig, toolsBinDir } from "../../scripts/toolchain/paths.ts";

/** Environment for cdktf and Terraform: tools from .tools/bin, providers from the local mirror only. */
export function terraformEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${toolsBinDir}${delimiter}${process.env.PATH ?? ""}`,
    TF_CLI_CONFIG_FILE: terraformCliConfig,
    CHECKPOINT_DISABLE: "1",
    TF_IN_AUTOMATION: "1",
    CDKTF_DISABLE_PLUGIN_CACHE_ENV: "1",
    DISABLE_VERSION_CHECK: "true",
    CI: process.env.CI ?? "true",
    ...extra,
  };
}

/** Runs the cdktf CLI, streaming its output; resolves with its exit code. */
export function cdktf(args: string[], env: NodeJS.ProcessEnv = terraformEnv(), quiet = false): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, "node_modules/cdktf-cli/bundle/bin/cdktf"), ...args], {
      cwd: repoRoot,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const forward = (stream: NodeJS.WriteStream) => (d: Buffer) => {
      output += d;
      if (!quiet) stream.write(d);
    };
    child.stdout.on("data", forward(process.stdout));
    child.stderr.on("data", forward(process.stderr));
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}
