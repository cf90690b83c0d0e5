// Imported first by the multi-host test and benchmark: the state folder and topology are read when the
// modules after it load, and that deploy must not share either with the single-host one. It imports
// nothing of the project, as whatever it imported would load before these are set.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
process.env.EDGE_STATE_DIR = join(repoRoot, ".edge", "multi-host");
process.env.EDGE_TOPOLOGY = join(repoRoot, "infra/topology.multi-host.yaml");
