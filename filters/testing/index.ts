export { ProxyWasmLoadError, ProxyWasmTrap } from "./errors.ts";
export {
  ProxyWasmHost,
  type HttpCall,
  type HttpCallResult,
  type LogEntry,
  type MetricEntry,
  type ProxyWasmHostOptions,
  type SharedDataEntry,
} from "./host.ts";
export type { FilterAction, HttpContextHandle, LocalResponse } from "./http-context.ts";
export { HeaderMapFormatError, decodeHeaderPairs, encodeHeaderPairs, type HeaderList } from "./header-map.ts";
export { WasmResult, type AbiVersion, type LogLevelName, type WasmResultCode } from "./abi.ts";
