import { parseArgs } from "node:util";
import { loadTopology } from "../../infra/topology/load.ts";
import type { Topology } from "../../infra/topology/model.ts";
import { ensureSigningKeys } from "./keys.ts";
import { signToken } from "./sign.ts";

const USAGE = "usage: npm run token -- --user <id> --region <region> [--ttl <seconds>]";

function usageError(message: string): never {
  process.stderr.write(`token: ${message}\n`);
  process.exit(2);
}

let values: { user?: string; region?: string; ttl?: string };
try {
  ({ values } = parseArgs({
    options: { user: { type: "string" }, region: { type: "string" }, ttl: { type: "string" } },
    strict: true,
  }));
} catch (error) {
  usageError(`${(error as Error).message}; ${USAGE}`);
}

let topology: Topology;
try {
  topology = loadTopology();
} catch (error) {
  process.stderr.write(`token: ${(error as Error).message}\n`);
  process.exit(1);
}
const regions = topology.regions.map((region) => region.name);
if (!values.user) usageError(`--user is required; ${USAGE}`);
if (!values.region) usageError(`--region is required; expected one of ${regions.join(", ")}`);
if (!regions.includes(values.region)) {
  usageError(`unknown region "${values.region}"; expected one of ${regions.join(", ")}`);
}
const ttlText = values.ttl ?? "3600";
if (!/^-?\d+$/.test(ttlText)) usageError(`--ttl ${ttlText} is invalid; expected an integer number of seconds`);
// A rotated-out key is published only this long after its last token: a longer token would stop verifying early.
if (Number(ttlText) > topology.jwt.maxTokenTtlSeconds) {
  usageError(`--ttl ${ttlText} is over the topology's jwt.maxTokenTtlSeconds (${topology.jwt.maxTokenTtlSeconds}); expected at most that`);
}

const keys = ensureSigningKeys();
const token = signToken({
  user: values.user,
  region: values.region,
  ttlSeconds: Number(ttlText),
  issuer: topology.jwt.issuer,
  audience: topology.jwt.audiences[0] ?? usageError("topology jwt.audiences is empty; expected at least one audience"),
  regionClaim: topology.jwt.regionClaim,
  key: keys.privateKey,
  kid: keys.kid,
});
process.stdout.write(`${token}\n`);
