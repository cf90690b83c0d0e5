import { join } from "node:path";
import { LocalBackend, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider/index.js";
import { pins } from "../../scripts/toolchain/versions.ts";

/**
 * A stack with local state under the state folder and the Docker provider pinned to the version
 * `npm run setup` builds (the generated bindings would otherwise ask for the version they were made for).
 */
export abstract class EdgeStack extends TerraformStack {
  readonly provider: DockerProvider;

  constructor(scope: Construct, name: string, stateDir: string, dockerHost?: string) {
    super(scope, name);
    new LocalBackend(this, { path: join(stateDir, "terraform", `${name}.tfstate`) });
    this.provider = new DockerProvider(this, "docker", dockerHost ? { host: dockerHost } : {});
    this.addOverride("terraform.required_providers.docker.version", pins.dockerProvider.version);
  }
}
