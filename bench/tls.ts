// npm run bench:tls [-- --seconds N] [--quick]: what TLS costs at a POP, side by side in one run on one
// loopback edge (real Envoy, one worker per POP, the region router in front of every request):
//   - full and resumed TLS handshakes per second against one worker, each from a fresh connection;
//   - the p50 latency of a request on a fresh connection, cleartext vs TLS (the handshake's share);
//   - the p50 latency of a request on a kept-alive connection, cleartext vs TLS (the record layer's).
// Results go into the "tls" section of docs/benchmarks.md with the command to reproduce.
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { connect as connectTls, type SecureContextOptions } from "node:tls";
import { validateTopology } from "../infra/topology/load.ts";
import { validRaw } from "../infra/topology/test/fixtures.ts";
import { repoRoot } from "../scripts/toolchain/paths.ts";
import { startLoopbackEdge, type LoopbackEdge } from "../edge/loopback-edge.ts";
import { signToken } from "../upstreams/tokens/sign.ts";
import { writeSection } from "./benchmarks-doc.ts";
import { runBenchCommand, UsageError } from "./cli.ts";

interface Cli {
  seconds: number;
  concurrency: number;
  doc: string;
  quick: boolean;
}

const USAGE = "usage: npm run bench:tls [-- --seconds N] [--concurrency N] [--quick] [--doc FILE]";

function parse(argv: string[]): Cli {
  const cli: Cli = { seconds: 10, concurrency: 8, doc: join(repoRoot, "docs/benchmarks.md"), quick: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    const positive = (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`${arg} ${v} is not a positive integer`);
      return n;
    };
    if (arg === "--seconds") cli.seconds = positive(value());
    else if (arg === "--concurrency") cli.concurrency = positive(value());
    else if (arg === "--doc") cli.doc = value();
    else if (arg === "--quick") {
      cli.quick = true;
      cli.seconds = 2;
    } else throw new UsageError(`unknown option ${arg}`);
  }
  return cli;
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

/** Runs `concurrency` loops of `once` for `seconds`; the count of completed calls and their durations. */
async function drive(seconds: number, concurrency: number, once: () => Promise<void>): Promise<{ count: number; ms: number[]; errors: number }> {
  const until = performance.now() + seconds * 1000;
  const ms: number[] = [];
  let errors = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      const started = performance.now();
      try {
        await once();
        ms.push(performance.now() - started);
      } catch {
        errors++;
      }
    }
  }));
  return { count: ms.length, ms, errors };
}

/** One handshake on a fresh connection; with `session`, it must resume. Returns the session it got. */
function handshakeOnce(port: number, ca: SecureContextOptions["ca"], options: { maxVersion?: "TLSv1.2" | "TLSv1.3"; session?: Buffer } = {}): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: "127.0.0.1", port, ca, servername: "localhost", ...options }, () => {
      const session = socket.getSession();
      const resumed = socket.isSessionReused();
      socket.destroy();
      if (options.session && !resumed) reject(new Error("session not resumed"));
      else resolve(session);
    });
    socket.setTimeout(5000, () => socket.destroy(new Error("handshake timed out")));
    socket.once("error", reject);
  });
}

function requestOnce(url: string, headers: Record<string, string>, agent: HttpAgent | HttpsAgent | false, ca?: string): Promise<void> {
  const send = url.startsWith("https:") ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { headers, agent, ...(ca ? { ca } : {}) }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end();
  });
}

interface Measured {
  fullPerSecond: number;
  full12PerSecond: number;
  resumedPerSecond: number;
  freshP50: { cleartext: number; tls: number };
  keptP50: { cleartext: number; tls: number };
  requests: number;
  errors: number;
}

async function measure(edge: LoopbackEdge, cli: Cli, token: string): Promise<Measured> {
  const ca = readFileSync(edge.publicPki.ca.certPath, "utf8");
  const tlsUrl = edge.tlsUrl("south", "p1");
  const clearUrl = edge.clientUrl("south", "p1");
  const port = Number(new URL(tlsUrl).port);
  const headers = { authorization: `Bearer ${token}` };
  // A local request (south owns it): the measure is the POP's TLS, not a sideways hop.
  const path = "/cart/bench";
  const warm = () => drive(1, cli.concurrency, () => requestOnce(`${tlsUrl}${path}`, headers, false, ca));
  await warm();

  const full = await drive(cli.seconds, cli.concurrency, async () => void (await handshakeOnce(port, ca)));
  const full12 = await drive(cli.seconds, cli.concurrency, async () => void (await handshakeOnce(port, ca, { maxVersion: "TLSv1.2" })));
  // Resumption with a TLS 1.2 session ticket: a TLS 1.3 handshake with no request on it got no ticket
  // from Envoy here (1.3 tickets come after the handshake), so a bare handshake cannot resume in 1.3.
  const ticket = await handshakeOnce(port, ca, { maxVersion: "TLSv1.2" });
  const resumed = await drive(cli.seconds, cli.concurrency, async () => void (await handshakeOnce(port, ca, { maxVersion: "TLSv1.2", session: ticket })));

  // Fresh connection per request, then kept-alive connections: cleartext and TLS interleaved in halves
  // so a slow stretch of the machine hits both alike.
  const fresh = { cleartext: [] as number[], tls: [] as number[] };
  const kept = { cleartext: [] as number[], tls: [] as number[] };
  let requests = 0;
  let errors = full.errors + full12.errors + resumed.errors;
  const half = Math.max(1, cli.seconds / 2);
  for (let round = 0; round < 2; round++) {
    for (const [kind, url] of [["cleartext", clearUrl], ["tls", tlsUrl]] as const) {
      const r = await drive(half, cli.concurrency, () => requestOnce(`${url}${path}`, headers, false, kind === "tls" ? ca : undefined));
      fresh[kind].push(...r.ms);
      requests += r.count;
      errors += r.errors;
      const agent = kind === "tls" ? new HttpsAgent({ keepAlive: true, maxSockets: cli.concurrency, ca }) : new HttpAgent({ keepAlive: true, maxSockets: cli.concurrency });
      const k = await drive(half, cli.concurrency, () => requestOnce(`${url}${path}`, headers, agent));
      agent.destroy();
      kept[kind].push(...k.ms);
      requests += k.count;
      errors += k.errors;
    }
  }
  return {
    fullPerSecond: full.count / cli.seconds,
    full12PerSecond: full12.count / cli.seconds,
    resumedPerSecond: resumed.count / cli.seconds,
    freshP50: { cleartext: percentile(fresh.cleartext, 50), tls: percentile(fresh.tls, 50) },
    keptP50: { cleartext: percentile(kept.cleartext, 50), tls: percentile(kept.tls, 50) },
    requests,
    errors,
  };
}

function report(m: Measured, cli: Cli): string {
  const ms = (v: number) => v.toFixed(2);
  const command = `npm run bench:tls${cli.quick ? " -- --quick" : cli.seconds !== 10 ? ` -- --seconds ${cli.seconds}` : ""}`;
  return [
    "## TLS at a POP",
    "",
    `Reproduce: \`${command}\`. Machine: ${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; one loopback edge, the measured POP's Envoy with one worker`,
    `(\`--concurrency 1\`), its P-256 certificate from the public CA; ${cli.concurrency} client connections at a time, ${cli.seconds} s per`,
    "measure; the client (Node) runs on the same CPUs, so the rates are what one worker does while sharing them.",
    "A TLS 1.3 handshake with no request on it brings no session ticket from Envoy (seen here), so resumption is measured with TLS 1.2 tickets.",
    "",
    "| measure | result |",
    "|---|---:|",
    `| full TLS 1.3 handshakes per second, one worker | ${m.fullPerSecond.toFixed(0)} |`,
    `| full TLS 1.2 handshakes per second, one worker | ${m.full12PerSecond.toFixed(0)} |`,
    `| resumed handshakes (TLS 1.2 session ticket) per second, one worker | ${m.resumedPerSecond.toFixed(0)} |`,
    `| p50 of a request on a fresh connection, cleartext | ${ms(m.freshP50.cleartext)} ms |`,
    `| p50 of a request on a fresh connection, TLS (full handshake) | ${ms(m.freshP50.tls)} ms |`,
    `| p50 TLS adds on a fresh connection | ${ms(m.freshP50.tls - m.freshP50.cleartext)} ms |`,
    `| p50 of a request on a kept-alive connection, cleartext | ${ms(m.keptP50.cleartext)} ms |`,
    `| p50 of a request on a kept-alive connection, TLS | ${ms(m.keptP50.tls)} ms |`,
    `| p50 TLS adds on a kept-alive connection | ${ms(m.keptP50.tls - m.keptP50.cleartext)} ms |`,
    "",
    `Requests in the latency measures: ${m.requests}; failed handshakes or requests: ${m.errors}.`,
  ].join("\n");
}

let edge: LoopbackEdge | null = null;

runBenchCommand<Cli>({
  name: "bench:tls",
  usage: USAGE,
  parse,
  stopping: "stopping the loopback edge",
  stop: async () => {
    await edge?.stop();
  },
  async run(cli) {
    const topology = validateTopology(validRaw());
    edge = await startLoopbackEdge(topology, { envoyLogLevel: "error" });
    const token = signToken({ user: "bench", region: "south", ttlSeconds: 3600, issuer: topology.jwt.issuer, audience: topology.jwt.audiences, key: edge.keys.privateKey });
    const measured = await measure(edge, cli, token);
    await edge.stop();
    edge = null;
    const body = report(measured, cli);
    console.log(body);
    if (measured.errors > 0) {
      console.error(`bench:tls: ${measured.errors} handshake(s) or request(s) failed; the doc is not written`);
      return 1;
    }
    writeSection(cli.doc, "tls", body);
    console.log(`\nwrote section "tls" of ${cli.doc}`);
    return 0;
  },
});
