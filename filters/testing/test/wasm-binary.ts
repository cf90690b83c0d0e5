// Builds tiny Wasm binaries byte by byte, for load-time cases no real compiler produces on demand
// (a missing ABI export, an import Envoy lacks, a start function that calls the host).

export type ValueType = "i32" | "i64";

export interface FunctionImport {
  module: string;
  name: string;
  params?: ValueType[];
  results?: ValueType[];
}

export interface FunctionExport {
  name: string;
  params?: ValueType[];
  results?: ValueType[];
  /** Instructions of the body, without the locals header and the final `end`. */
  code?: number[];
}

export interface ModuleSpec {
  imports?: FunctionImport[];
  exports: FunctionExport[];
}

export const op = {
  i32Const: (value: number): number[] => [0x41, ...signedLeb(value)],
  call: (index: number): number[] => [0x10, ...unsignedLeb(index)],
  drop: [0x1a],
};

const VALUE_TYPE_CODES: Record<ValueType, number> = { i32: 0x7f, i64: 0x7e };

function unsignedLeb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

function signedLeb(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...unsignedLeb(bytes.length), ...bytes];
}

function vector(items: number[][]): number[] {
  return [...unsignedLeb(items.length), ...items.flat()];
}

function section(id: number, content: number[]): number[] {
  return [id, ...unsignedLeb(content.length), ...content];
}

/** A module with the given function imports and exports plus one exported memory page. */
export function buildWasmModule(spec: ModuleSpec): Uint8Array {
  const imports = spec.imports ?? [];
  const types: string[] = [];
  const typeIndex = (params: ValueType[] = [], results: ValueType[] = []): number => {
    const key = `${params.join(",")}->${results.join(",")}`;
    if (!types.includes(key)) types.push(key);
    return types.indexOf(key);
  };
  const importEntries = imports.map((i) => [...name(i.module), ...name(i.name), 0x00, ...unsignedLeb(typeIndex(i.params, i.results))]);
  const functionTypes = spec.exports.map((e) => unsignedLeb(typeIndex(e.params, e.results)));
  const typeEntries = types.map((key) => {
    const [params, results] = key.split("->").map((list) => (list === "" ? [] : (list.split(",") as ValueType[])));
    return [0x60, ...vector((params ?? []).map((t) => [VALUE_TYPE_CODES[t]])), ...vector((results ?? []).map((t) => [VALUE_TYPE_CODES[t]]))];
  });
  const exportEntries = [
    ...spec.exports.map((e, i) => [...name(e.name), 0x00, ...unsignedLeb(imports.length + i)]),
    [...name("memory"), 0x02, 0x00],
  ];
  const bodies = spec.exports.map((e) => {
    const body = [0x00, ...(e.code ?? []), 0x0b];
    return [...unsignedLeb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector(typeEntries)),
    ...section(2, vector(importEntries)),
    ...section(3, vector(functionTypes)),
    ...section(5, vector([[0x00, 0x01]])),
    ...section(7, vector(exportEntries)),
    ...section(10, vector(bodies)),
  ]);
}
