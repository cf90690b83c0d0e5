import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { pins } from "./versions.ts";
import { repoRoot, toolPath, toolsDir } from "./paths.ts";
import { lastLine, run, runOrFail, StepError } from "./commands.ts";
import { aptInstall } from "./docker-engine.ts";
import type { Probe } from "./components.ts";

/** `EDGE_IMAGE_SOURCE=registry` builds on envoyproxy/envoy and node images pulled from a registry. */
export type ImageSource = "local" | "registry";
export function imageSource(): ImageSource {
  const v = process.env.EDGE_IMAGE_SOURCE ?? "local";
  if (v !== "local" && v !== "registry") throw new Error(`EDGE_IMAGE_SOURCE=${v} is not valid; expected "local" or "registry"`);
  return v;
}

export interface BaseImage {
  name: "envoy" | "node";
  tag: string;
  registryBase: string;
  /** The binary the local rootfs is assembled around, and where it goes inside the image. */
  binary(): { source: string; target: string; version: string };
  recipe(): string;
}

const busyboxPath = "/bin/busybox";
export const imageLabel = "io.edgerim.recipe";

function envoyBinary() {
  const source = realpathSync(toolPath("envoy"));
  return { source, target: "/usr/local/bin/envoy", version: run(source, ["--version"]).stdout.trim() };
}

function nodeBinary() {
  const source = realpathSync(process.execPath);
  return { source, target: "/usr/local/bin/node", version: process.version };
}

function makeImage(name: BaseImage["name"], tags: { tag: string; registryBase: string }, binary: BaseImage["binary"]): BaseImage {
  const image: BaseImage = {
    name,
    tag: tags.tag,
    registryBase: tags.registryBase,
    binary,
    recipe() {
      const h = createHash("sha256");
      h.update(imageSource());
      h.update(readFileSync(join(repoRoot, "infra/images", name, "Dockerfile")));
      h.update(imageSource() === "local" ? image.binary().version : image.registryBase);
      return h.digest("hex");
    },
  };
  return image;
}

export function baseImages(): BaseImage[] {
  return [
    makeImage("envoy", pins.images.envoy, envoyBinary),
    makeImage("node", pins.images.node, nodeBinary),
  ];
}

export function probeBaseImage(image: BaseImage): Probe {
  const r = run("docker", ["image", "inspect", "--format", `{{ index .Config.Labels "${imageLabel}" }}`, image.tag]);
  if (r.code !== 0) return { status: "missing", detail: lastLine(r) };
  let recipe: string;
  try {
    recipe = image.recipe();
  } catch (e) {
    return { status: "missing", detail: (e as Error).message };
  }
  const found = r.stdout.trim();
  return { status: found === recipe ? "ok" : "wrong version", found: found.slice(0, 12) || "unlabelled", path: image.tag };
}

/** Shared libraries a dynamically linked binary loads, as absolute paths (from ldd). */
function sharedLibraries(binary: string): string[] {
  const out = runOrFail("assemble base image", "install libc-bin (ldd)", "ldd", [binary]);
  const libs = new Set<string>();
  for (const line of out.split("\n")) {
    const m = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s+\(/);
    if (m?.[1]) libs.add(m[1]);
  }
  return [...libs];
}

function ensureStaticBusybox(): void {
  const r = run("ldd", [busyboxPath]);
  const isStatic = r.code !== 0 && /not a dynamic executable/.test(r.stdout + r.stderr);
  if (!isStatic) aptInstall(["busybox-static"], "install static busybox for image health checks");
}

/** Assembles a minimal root filesystem around one binary and imports it as an image. */
function importRootfs(image: BaseImage, workDir: string, recipe: string): string {
  const { source, target } = image.binary();
  const rootfs = join(workDir, "rootfs");
  const place = (from: string, to: string) => {
    mkdirSync(join(rootfs, dirname(to)), { recursive: true });
    copyFileSync(from, join(rootfs, to));
    chmodSync(join(rootfs, to), 0o755);
  };
  place(source, target);
  for (const lib of sharedLibraries(source)) place(realpathSync(lib), lib);
  mkdirSync(join(rootfs, "etc"), { recursive: true });
  writeFileSync(join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  writeFileSync(join(rootfs, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  for (const d of ["tmp", "root", "dev", "proc", "sys"]) mkdirSync(join(rootfs, d), { recursive: true });
  chmodSync(join(rootfs, "tmp"), 0o1777);
  const tarball = join(workDir, "rootfs.tar");
  runOrFail("assemble base image", "check disk space", "tar", ["-C", rootfs, "-cf", tarball, "."]);
  const rootfsTag = `edgerim/${image.name}-rootfs:${recipe.slice(0, 12)}`;
  runOrFail("import base image", "check the Docker Engine is running (npm run doctor)", "docker", [
    "import", "--change", `LABEL ${imageLabel}=${recipe}`, tarball, rootfsTag,
  ]);
  return rootfsTag;
}

/** Root filesystems of earlier recipes are no longer used by any tag setup maintains. */
function removeStaleRootfsImages(image: BaseImage, current: string): void {
  const repo = `edgerim/${image.name}-rootfs`;
  const tags = run("docker", ["images", repo, "--format", "{{.Repository}}:{{.Tag}}"]).stdout.split("\n").filter((t) => t && t !== current);
  if (tags.length > 0) run("docker", ["rmi", ...tags]);
}

export function buildBaseImage(image: BaseImage): void {
  ensureStaticBusybox();
  const recipe = image.recipe();
  const workDir = join(toolsDir, "tmp", `image-${image.name}-${process.pid}`);
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(join(workDir, "context"), { recursive: true });
  try {
    let base: string;
    if (imageSource() === "local") {
      base = importRootfs(image, workDir, recipe);
    } else {
      base = image.registryBase;
      runOrFail("pull base image", `check that the registry is reachable, or unset EDGE_IMAGE_SOURCE to assemble images locally`, "docker", ["pull", base]);
    }
    const context = join(workDir, "context");
    copyFileSync(join(repoRoot, "infra/images", image.name, "Dockerfile"), join(context, "Dockerfile"));
    copyFileSync(busyboxPath, join(context, "busybox"));
    chmodSync(join(context, "busybox"), 0o755);
    runOrFail(`build image ${image.tag}`, "read the docker build output above; `npm run doctor` checks the engine", "docker", [
      "build", "--quiet", "--build-arg", `BASE=${base}`, "--label", `${imageLabel}=${recipe}`, "-t", image.tag, context,
    ], { env: { ...process.env, DOCKER_BUILDKIT: "0" } });
    removeStaleRootfsImages(image, base);
  } catch (e) {
    if (e instanceof StepError) throw e;
    throw new StepError(`build image ${image.tag}`, (e as Error).message, "re-run `npm run setup`; `npm run doctor` shows what is missing");
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
