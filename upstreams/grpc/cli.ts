// npm run -s grpc -- ...: calls the Profile service through a POP of the deployed edge (or any URL)
// and prints each reply, the edge's route header and the status. No grpcurl needed.
import { parseArgs } from "node:util";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadTopology } from "../../infra/topology/load.ts";
import type { DeployOutputs } from "../../infra/deploy-outputs.ts";
import { defaultStateDir, ensureSigningKeys } from "../tokens/keys.ts";
import { signToken } from "../tokens/sign.ts";
import { grpc, ProfileClient, type CallOutcome, type ProfileReply } from "./profile-client.ts";

const USAGE =
  "usage: npm run -s grpc -- (--pop <region>-<pop> | --url http://host:port) [--user <id> --region <region> | --tenant <host>] " +
  "[--watch <count> [--interval-ms <ms>]] [--payload-bytes <n>]";

function usageError(message: string): never {
  process.stderr.write(`grpc: ${message}\n`);
  process.exit(2);
}

function count(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) usageError(`--${flag} ${raw} is invalid; expected a non-negative integer`);
  return value;
}

let values: Record<string, string | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      pop: { type: "string" }, url: { type: "string" }, user: { type: "string" }, region: { type: "string" }, tenant: { type: "string" },
      watch: { type: "string" }, "interval-ms": { type: "string" }, "payload-bytes": { type: "string" },
    },
    strict: true,
  }));
} catch (error) {
  usageError(`${(error as Error).message}; ${USAGE}`);
}

/** The POP's TLS URL and the deploy's CA, from the outputs file. */
function popEntry(id: string): { url: string; caPem: string } {
  const file = join(defaultStateDir(), "outputs.json");
  if (!existsSync(file)) usageError(`${file} not found: run \`npm run deploy\` first, or pass --url`);
  const pops = (JSON.parse(readFileSync(file, "utf8")) as DeployOutputs).pops;
  const pop = pops.find((candidate) => candidate.id === id);
  if (!pop) usageError(`unknown POP "${id}"; expected one of ${pops.map((candidate) => candidate.id).join(", ")}`);
  const outputs = JSON.parse(readFileSync(file, "utf8")) as DeployOutputs;
  return { url: pop.tlsUrl, caPem: readFileSync(outputs.ca, "utf8") };
}

const entry = values.url !== undefined ? { url: values.url } : values.pop !== undefined ? popEntry(values.pop) : usageError(`--pop or --url is required; ${USAGE}`);
if ((values.user === undefined) !== (values.region === undefined)) usageError(`--user and --region go together; ${USAGE}`);

let token: string | undefined;
if (values.user !== undefined && values.region !== undefined) {
  const topology = loadTopology();
  const regions = topology.regions.map((region) => region.name);
  if (!regions.includes(values.region)) usageError(`unknown region "${values.region}"; expected one of ${regions.join(", ")}`);
  const keys = ensureSigningKeys();
  token = signToken({
    user: values.user, region: values.region, ttlSeconds: 600, issuer: topology.jwt.issuer,
    audience: topology.jwt.audiences[0] ?? usageError("topology jwt.audiences is empty; expected at least one audience"),
    regionClaim: topology.jwt.regionClaim, key: keys.privateKey, kid: keys.kid,
  });
}

const client = new ProfileClient(entry.url, "caPem" in entry ? { caPem: entry.caPem } : undefined);
const options = { token, authority: values.tenant, deadlineMs: 30_000 };
const watch = count("watch", values.watch, 0);
let outcome: CallOutcome<ProfileReply>;
try {
  outcome = watch > 0
    ? await client.watch(watch, count("interval-ms", values["interval-ms"], 200), options)
    : await client.get({ ...options, payloadBytes: count("payload-bytes", values["payload-bytes"], 0) });
} finally {
  client.close();
}
for (const reply of outcome.replies) process.stdout.write(`${JSON.stringify(reply)}\n`);
const route = outcome.headers["x-edge-route"] ?? outcome.trailers["x-edge-route"];
if (route !== undefined) process.stdout.write(`x-edge-route: ${route}\n`);
process.stdout.write(`status: ${grpc.status[outcome.code]} (${outcome.code})${outcome.details ? `: ${outcome.details}` : ""}\n`);
process.exitCode = outcome.code === grpc.status.OK ? 0 : 1;
