// The smallest proxy-wasm module built with the project's SDK: `npm run doctor` has Envoy load it
// with the V8 runtime to prove the Wasm toolchain and runtime work together.
export * from "@solo-io/proxy-runtime/proxy";
import { RootContext, registerRootContext } from "@solo-io/proxy-runtime";

class ProbeRoot extends RootContext {}

registerRootContext((contextId: u32) => new ProbeRoot(contextId), "doctor_probe");
