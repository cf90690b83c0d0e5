// Ports for the proxies and servers a test or benchmark starts on 127.0.0.1. Asking the kernel for
// free ports and binding them later races with every other process doing the same (two loopback
// edges of concurrent test files were seen getting one port). So ports come from blocks outside the
// kernel's ephemeral range (no outgoing connection takes one), each block held by one process through
// an exclusive lock file, and are handed out within the process once each.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** 20000-27999: below Linux's default ephemeral range (32768-60999) and the topologies' host ports. */
const FIRST_PORT = 20_000;
const BLOCK_SIZE = 400;
const BLOCK_COUNT = 20;
const LOCK_DIR = join(tmpdir(), "edgerim-port-blocks");

const held: string[] = [];
let pool: number[] = [];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock of block `index` unless a live process holds it; a dead holder's lock is taken over. */
function lockBlock(index: number): boolean {
  const path = join(LOCK_DIR, String(index));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: "wx" });
      held.push(path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(readFileSync(path, "utf8"));
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) return false;
      try {
        unlinkSync(path);
      } catch {
        /* another process took it over first */
      }
    }
  }
  return false;
}

function releaseBlocks(): void {
  for (const path of held.splice(0)) {
    try {
      unlinkSync(path);
    } catch {
      /* already gone */
    }
  }
}
process.once("exit", releaseBlocks);

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Reserves the next free block and adds its bindable ports to the pool. */
async function refill(): Promise<void> {
  mkdirSync(LOCK_DIR, { recursive: true });
  for (let index = 0; index < BLOCK_COUNT; index++) {
    if (held.includes(join(LOCK_DIR, String(index))) || !lockBlock(index)) continue;
    const ports = Array.from({ length: BLOCK_SIZE }, (_, i) => FIRST_PORT + index * BLOCK_SIZE + i);
    const usable = await Promise.all(ports.map(bindable));
    pool.push(...ports.filter((_, i) => usable[i]));
    return;
  }
  throw new Error(`no free port block left in ${FIRST_PORT}-${FIRST_PORT + BLOCK_COUNT * BLOCK_SIZE - 1} (locks in ${LOCK_DIR})`);
}

/** `count` distinct ports on 127.0.0.1 that no other process of the project is handed; each is handed out once. */
export async function freePorts(count: number): Promise<number[]> {
  if (count > BLOCK_SIZE) throw new Error(`at most ${BLOCK_SIZE} ports at once, asked for ${count}`);
  while (pool.length < count) await refill();
  const ports = pool.slice(0, count);
  pool = pool.slice(count);
  return ports;
}
