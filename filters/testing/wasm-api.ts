// Typed access to Node's global `WebAssembly` object. The project compiles against the ES2022 lib
// (no DOM), which has no WebAssembly declarations; declaring only what the host uses here avoids
// adding a global declaration that could clash with another one.

export type WasmValue = number | bigint;
export type HostFunction = (...args: WasmValue[]) => WasmValue | void;
export type ImportObject = Record<string, Record<string, HostFunction>>;

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

export interface WasmModule {
  readonly __wasmModule: unique symbol;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

export interface ModuleImportDescriptor {
  module: string;
  name: string;
  kind: string;
}

export interface ModuleExportDescriptor {
  name: string;
  kind: string;
}

interface WebAssemblyApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: ImportObject): Promise<WasmInstance>;
  Module: {
    imports(module: WasmModule): ModuleImportDescriptor[];
    exports(module: WasmModule): ModuleExportDescriptor[];
  };
  Memory: abstract new (...args: never[]) => WasmMemory;
  RuntimeError: abstract new (...args: never[]) => Error;
}

export const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

export function isMemory(value: unknown): value is WasmMemory {
  return value instanceof webAssembly.Memory;
}

export function isRuntimeError(value: unknown): value is Error {
  return value instanceof webAssembly.RuntimeError;
}
