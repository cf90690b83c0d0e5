// npm run setup: installs and checks every tool the project runs, into the git-ignored .tools/.
// Idempotent: a component that probes ok is left alone.
import { components } from "./toolchain/components.ts";
import { StepError } from "./toolchain/commands.ts";
import { toolsDir } from "./toolchain/paths.ts";
import { rmSync } from "node:fs";
import { join } from "node:path";

const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)}s`;

async function main(): Promise<number> {
  const started = performance.now();
  console.log(`setup: tools in ${toolsDir}`);
  for (const component of components) {
    const t = performance.now();
    const before = component.probe();
    if (before.status === "ok") {
      console.log(`  ok        ${component.name.padEnd(32)} ${before.found ?? ""} (${seconds(t)})`);
      continue;
    }
    try {
      await component.install();
    } catch (e) {
      const msg = e instanceof StepError ? e.message : `${component.name}: ${(e as Error).message}`;
      console.error(`  FAILED    ${component.name.padEnd(32)} after ${seconds(t)}\n${msg}`);
      return 1;
    }
    const after = component.probe();
    if (after.status !== "ok") {
      console.error(`  FAILED    ${component.name.padEnd(32)} installed but probes ${after.status}: ${after.detail ?? after.found ?? ""}`);
      return 1;
    }
    console.log(`  installed ${component.name.padEnd(32)} ${after.found ?? ""} (${seconds(t)}; was ${before.status}${before.detail ? `: ${before.detail}` : ""})`);
  }
  rmSync(join(toolsDir, "tmp"), { recursive: true, force: true });
  console.log(`setup: done in ${seconds(started)}`);
  return 0;
}

process.exitCode = await main();
