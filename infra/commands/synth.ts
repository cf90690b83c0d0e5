// npm run synth: builds the filter and synthesizes every stack into cdktf.out/ (no Docker needed).
import { cdktf, terraformEnv } from "./cdktf-cli.ts";
import { runProjectScript } from "./deploy-environment.ts";
import { reportFailure, step } from "./step.ts";

try {
  await step("build filter", () => runProjectScript("build filter", "filters/region-router/build.ts"));
  const r = await step("cdktf synth", () => cdktf(["synth"], terraformEnv()));
  process.exitCode = r.code;
} catch (e) {
  process.exitCode = reportFailure("synth", e);
}
