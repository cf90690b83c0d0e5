// The TLS bench's quick mode, run as a user runs it, writing into a scratch doc: every measure ran on a
// real loopback edge, nothing failed, and the section it writes carries numbers and the command.
// Real Envoy on 127.0.0.1; not a performance test (no number is held to a speed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../scripts/toolchain/paths.ts";

test("bench:tls --quick: full, TLS 1.2 and resumed handshakes and both latency pairs are measured with no failure, into the doc given", () => {
  const dir = mkdtempSync(join(tmpdir(), "edgerim-tls-bench-"));
  try {
    const doc = join(dir, "benchmarks.md");
    const run = spawnSync(process.execPath, ["--import", "tsx", "bench/tls.ts", "--quick", "--concurrency", "2", "--doc", doc], { cwd: repoRoot, encoding: "utf8", timeout: 180_000 });
    assert.equal(run.status, 0, `bench:tls --quick failed:\n${run.stdout}\n${run.stderr}`);
    const text = readFileSync(doc, "utf8");
    assert.match(text, /Reproduce: `npm run bench:tls -- --quick`/);
    for (const row of ["full TLS 1.3 handshakes per second", "full TLS 1.2 handshakes per second", "resumed handshakes (TLS 1.2 session ticket) per second"]) {
      const value = Number(new RegExp(`\\| ${row.replace(/[()]/g, "\\$&")}, one worker \\| (\\d+) \\|`).exec(text)?.[1]);
      assert.ok(value > 0, `${row}: ${value}`);
    }
    for (const row of ["fresh connection, cleartext", "fresh connection, TLS (full handshake)", "kept-alive connection, cleartext", "kept-alive connection, TLS"]) {
      const value = Number(new RegExp(`\\| p50 of a request on a ${row.replace(/[()]/g, "\\$&")} \\| ([\\d.]+) ms \\|`).exec(text)?.[1]);
      assert.ok(value > 0, `p50 on a ${row}: ${value}`);
    }
    assert.match(text, /failed handshakes or requests: 0\./);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
