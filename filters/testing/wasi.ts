// The WASI functions Envoy gives proxy-wasm modules, under both `wasi_unstable` and
// `wasi_snapshot_preview1`. stdout/stderr become log lines; there is no file system.

import { randomFillSync } from "node:crypto";

import { WasiErrno } from "./abi.ts";
import type { GuestMemory } from "./guest-memory.ts";
import type { HostFunction } from "./wasm-api.ts";

/** Thrown through the module when it calls `proc_exit` (AssemblyScript's abort does). */
export class ModuleExit extends Error {
  override name = "ModuleExit";
  constructor(readonly code: number) {
    super(`module called proc_exit(${code})`);
  }
}

export interface WasiEnvironment {
  memory: GuestMemory;
  /** `level` is the proxy-wasm log level number (info = 2, error = 4). */
  log(level: number, message: string): void;
  nowNanoseconds(): bigint;
}

const INFO_LEVEL = 2;
const ERROR_LEVEL = 4;
const REALTIME_CLOCK = 0;
const FD_RIGHTS_WRITE = 64n;
const utf8Decoder = new TextDecoder("utf-8");

export function wasiFunctions(env: WasiEnvironment): Record<string, HostFunction> {
  const { memory } = env;
  const num = (value: unknown): number => Number(value);

  return {
    fd_write(fd, iovs, iovsLength, writtenPtr) {
      const level = num(fd) === 1 ? INFO_LEVEL : num(fd) === 2 ? ERROR_LEVEL : undefined;
      if (level === undefined) return WasiErrno.BadFileDescriptor;
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < num(iovsLength); i++) {
        const base = num(iovs) + 8 * i;
        const bufferPtr = memory.readU32(base);
        const bufferLength = memory.readU32(base + 4);
        if (bufferPtr === null || bufferLength === null) return WasiErrno.Fault;
        const chunk = memory.read(bufferPtr, bufferLength);
        if (chunk === null) return WasiErrno.Fault;
        chunks.push(chunk);
      }
      const written = chunks.reduce((total, chunk) => total + chunk.length, 0);
      if (written > 0) {
        const text = utf8Decoder.decode(Buffer.concat(chunks));
        env.log(level, text.endsWith("\n") ? text.slice(0, -1) : text);
      }
      return memory.writeU32(num(writtenPtr), written) ? WasiErrno.Success : WasiErrno.Fault;
    },
    fd_read: () => WasiErrno.NotImplemented,
    fd_seek: () => WasiErrno.NotImplemented,
    fd_close: () => WasiErrno.NotImplemented,
    fd_fdstat_get(fd, statPtr) {
      if (num(fd) !== 1 && num(fd) !== 2) return WasiErrno.BadFileDescriptor;
      const stat = new Uint8Array(24);
      new DataView(stat.buffer).setBigUint64(8, FD_RIGHTS_WRITE, true);
      return memory.write(num(statPtr), stat) ? WasiErrno.Success : WasiErrno.Fault;
    },
    environ_sizes_get(countPtr, sizePtr) {
      return memory.writeU32(num(countPtr), 0) && memory.writeU32(num(sizePtr), 0) ? WasiErrno.Success : WasiErrno.Fault;
    },
    environ_get: () => WasiErrno.Success,
    args_sizes_get(countPtr, sizePtr) {
      return memory.writeU32(num(countPtr), 0) && memory.writeU32(num(sizePtr), 0) ? WasiErrno.Success : WasiErrno.Fault;
    },
    args_get: () => WasiErrno.Success,
    clock_time_get(clockId, _precision, timePtr) {
      if (num(clockId) !== REALTIME_CLOCK) return WasiErrno.NotSupported;
      return memory.writeU64(num(timePtr), env.nowNanoseconds()) ? WasiErrno.Success : WasiErrno.Fault;
    },
    random_get(bufferPtr, length) {
      const bytes = randomFillSync(new Uint8Array(num(length)));
      return memory.write(num(bufferPtr), bytes) ? WasiErrno.Success : WasiErrno.Fault;
    },
    proc_exit(code) {
      throw new ModuleExit(num(code));
    },
    path_open: () => WasiErrno.NotImplemented,
    // No pre-opened directories: EBADF ends a WASI libc's scan for them.
    fd_prestat_get: () => WasiErrno.BadFileDescriptor,
    fd_prestat_dir_name: () => WasiErrno.NotImplemented,
  };
}
