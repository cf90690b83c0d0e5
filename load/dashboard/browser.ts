// Debian's Chromium, headless, driven by playwright-core: for the dashboard's browser tests and its
// screenshot. The flags keep it off every host it would otherwise try to reach; playwright gives every
// launch a fresh temporary profile (its own --user-data-dir) and adds --headless itself.
import { chromium, type Browser } from "playwright-core";
import { toolPath } from "../../scripts/toolchain/paths.ts";

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Throws one line naming the fix when Chromium is not installed (`npm run setup` installs it). */
export async function launchChromium(): Promise<Browser> {
  const executablePath = toolPath("chromium");
  try {
    return await chromium.launch({ executablePath, headless: true, args: FLAGS });
  } catch (error) {
    throw new Error(`Chromium at ${executablePath} did not start (${(error as Error).message.split("\n")[0]}); run \`npm run setup\` (installs Debian's chromium) or \`npm run doctor\``);
  }
}
