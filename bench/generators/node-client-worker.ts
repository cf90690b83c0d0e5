// Node keep-alive client of the soak, run as its own process so it does not share an event loop
// with the app and discovery servers of the loopback edge.
// Usage: node --import tsx node-client-worker.ts <url> <request file (JSON)> <responses> <connections> <first entry>
import { Agent, request } from "node:http";
import { readFileSync } from "node:fs";
import type { SoakRequest } from "../traffic-mix.ts";

const [url, file, total, connectionCount, firstEntry] = process.argv.slice(2) as [string, string, string, string, string];
const requests = JSON.parse(readFileSync(file, "utf8")) as SoakRequest[];
const quota = Number(total);
const connections = Number(connectionCount);
const agent = new Agent({ keepAlive: true, maxSockets: connections });
const base = new URL(url);
const statuses: Record<number, number> = {};
const latenciesUs: number[] = [];
let issued = 0;
let answered = 0;
let errors = 0;

function send(soakRequest: SoakRequest): Promise<void> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(
      { agent, host: base.hostname, port: base.port, path: soakRequest.path, headers: soakRequest.headers, timeout: 10_000 },
      (res) => {
        res.resume();
        res.on("end", () => {
          answered += 1;
          statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
          if (latenciesUs.length < 200_000) latenciesUs.push((performance.now() - started) * 1000);
          resolve();
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => {
      errors += 1;
      resolve();
    });
    req.end();
  });
}

async function connectionLoop(offset: number): Promise<void> {
  let cursor = offset;
  while (issued < quota) {
    issued += 1;
    await send(requests[cursor % requests.length]!);
    cursor += 1;
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: connections }, (_, i) => connectionLoop(Number(firstEntry) + Math.floor((i * requests.length) / connections))));
const seconds = (performance.now() - started) / 1000;
latenciesUs.sort((a, b) => a - b);
const p99Us = latenciesUs.length > 0 ? latenciesUs[Math.min(latenciesUs.length - 1, Math.floor(latenciesUs.length * 0.99))]! : null;
agent.destroy();
const cpu = process.cpuUsage();
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
process.stdout.write(`soak-result ${JSON.stringify({ responses: answered, seconds, statuses, errors, p99Us, cpuSeconds })}\n`);
