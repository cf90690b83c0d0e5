// The cdktf app (cdktf.json runs it): one shared stack and one stack per region of the topology.
import { App } from "cdktf";
import { loadTopology, topologyPath } from "./topology/load.ts";
import { collectDeployInputs } from "./deploy-inputs.ts";
import { buildEdgeApp } from "./edge-app.ts";

const path = topologyPath();
const topology = loadTopology(path);
const inputs = collectDeployInputs(topology, path);
if (inputs.nofileWarning) console.warn(inputs.nofileWarning);
const app = new App();
buildEdgeApp(app, topology, inputs);
app.synth();
