// The module's linear memory as the host sees it: bounds-checked reads and writes, and buffers
// handed to the module through its own allocator (the ABI's return-by-pointer convention).

import type { WasmMemory } from "./wasm-api.ts";

const utf8Decoder = new TextDecoder("utf-8");

export class GuestMemory {
  constructor(
    private readonly memory: () => WasmMemory,
    private readonly allocate: (size: number) => number,
  ) {}

  get byteLength(): number {
    return this.memory().buffer.byteLength;
  }

  private inBounds(ptr: number, size: number): boolean {
    return ptr >= 0 && size >= 0 && ptr + size <= this.byteLength;
  }

  /** A copy of `size` bytes at `ptr`, or null when the range is outside memory. */
  read(ptr: number, size: number): Uint8Array | null {
    if (!this.inBounds(ptr, size)) return null;
    return new Uint8Array(this.memory().buffer, ptr, size).slice();
  }

  readString(ptr: number, size: number): string | null {
    const bytes = this.read(ptr, size);
    return bytes === null ? null : utf8Decoder.decode(bytes);
  }

  write(ptr: number, bytes: Uint8Array): boolean {
    if (!this.inBounds(ptr, bytes.length)) return false;
    new Uint8Array(this.memory().buffer, ptr, bytes.length).set(bytes);
    return true;
  }

  writeU32(ptr: number, value: number): boolean {
    if (!this.inBounds(ptr, 4)) return false;
    new DataView(this.memory().buffer).setUint32(ptr, value >>> 0, true);
    return true;
  }

  writeU64(ptr: number, value: bigint): boolean {
    if (!this.inBounds(ptr, 8)) return false;
    new DataView(this.memory().buffer).setBigUint64(ptr, BigInt.asUintN(64, value), true);
    return true;
  }

  readU32(ptr: number): number | null {
    if (!this.inBounds(ptr, 4)) return null;
    return new DataView(this.memory().buffer).getUint32(ptr, true);
  }

  /** Copies `bytes` into a block from the module's allocator; null if allocation fails. */
  allocateCopy(bytes: Uint8Array): number | null {
    const ptr = this.allocate(bytes.length) >>> 0;
    if (ptr === 0 || !this.write(ptr, bytes)) return null;
    return ptr;
  }

  /**
   * Hands `bytes` to the module: allocates a copy, then stores its address at `ptrPtr` and its size
   * at `sizePtr`. Empty data allocates nothing and stores address 0, as Envoy does.
   */
  copyToPointerSize(bytes: Uint8Array, ptrPtr: number, sizePtr: number): boolean {
    let ptr = 0;
    if (bytes.length > 0) {
      const allocated = this.allocateCopy(bytes);
      if (allocated === null) return false;
      ptr = allocated;
    }
    return this.writeU32(ptrPtr, ptr) && this.writeU32(sizePtr, bytes.length);
  }
}
