import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { buildSync } from "esbuild";
import { repoRoot, stateDir } from "../scripts/toolchain/paths.ts";
import { imageSource } from "../scripts/toolchain/base-images.ts";
import { pins } from "../scripts/toolchain/versions.ts";
import { run, runOrFail } from "../scripts/toolchain/commands.ts";
import { LABEL_PROJECT } from "./constructs/labels.ts";

const entries = { app: "upstreams/app/server.ts", discovery: "upstreams/discovery/server.ts" } as const;
/** Files the bundles read at run time from beside themselves (the gRPC app's messages: PROFILE_PROTO). */
const besideBundles = ["upstreams/grpc/profile.proto"] as const;
const dockerfile = join(repoRoot, "infra/images/upstreams/Dockerfile");

export interface UpstreamsBundle {
  dir: string;
  /** Content-addressed tag: a change to the services or the base image gives a new tag. */
  tag: string;
}

/**
 * Bundles the regional services to plain JavaScript (Node in the image runs no TypeScript), with the
 * files they read beside them: `dir` is what the image copies to /srv/edgerim/.
 */
export function bundleUpstreams(project: string, dir: string = join(stateDir, "build", "upstreams")): UpstreamsBundle {
  mkdirSync(dir, { recursive: true });
  const hash = createHash("sha256");
  for (const [name, entry] of Object.entries(entries)) {
    const outfile = join(dir, `${name}.mjs`);
    buildSync({
      entryPoints: [join(repoRoot, entry)],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "error",
      // Bundled CommonJS dependencies still call require().
      banner: { js: "import { createRequire as __edgeCreateRequire } from 'node:module'; const require = __edgeCreateRequire(import.meta.url);" },
    });
    hash.update(readFileSync(outfile));
  }
  for (const file of besideBundles) {
    const target = join(dir, basename(file));
    copyFileSync(join(repoRoot, file), target);
    hash.update(readFileSync(target));
  }
  hash.update(readFileSync(dockerfile));
  hash.update(`${imageSource()}:${pins.images.node.tag}`);
  return { dir, tag: `${project}/upstreams:${hash.digest("hex").slice(0, 12)}` };
}

/** Builds the services image unless an image with that content tag exists already. */
export function buildUpstreamsImage(project: string, bundle: UpstreamsBundle): void {
  if (run("docker", ["image", "inspect", bundle.tag]).code === 0) return;
  copyFileSync(dockerfile, join(bundle.dir, "Dockerfile"));
  runOrFail(`build image ${bundle.tag}`, "run `npm run doctor` to check the Docker Engine and base images", "docker", [
    "build", "--quiet", "--build-arg", `BASE=${pins.images.node.tag}`, "--label", `${LABEL_PROJECT}=${project}`, "-t", bundle.tag, bundle.dir,
  ], { env: { ...process.env, DOCKER_BUILDKIT: "0" } });
}
