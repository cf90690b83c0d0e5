import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { validateTopology } from "../../infra/topology/load.ts";
import { validRaw } from "../../infra/topology/test/fixtures.ts";
import { popContainer, popSpiffeId } from "../../infra/topology/names.ts";
import { ensureBackbonePki, POP_RENEW_DAYS, POP_VALIDITY_DAYS } from "../backbone-pki.ts";

const scratch = mkdtempSync(join(tmpdir(), "edgerim-backbone-pki-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const topology = validateTopology(validRaw());
const DAY_MS = 86_400_000;
const mode = (path: string) => statSync(path).mode & 0o777;
const cert = (path: string) => new X509Certificate(readFileSync(path));

describe("backbone PKI", () => {
  it("BackbonePki: one certificate per POP from the CA, naming its SPIFFE id and container; keys 0600", () => {
    const pki = ensureBackbonePki(topology, join(scratch, "fresh"));
    assert.equal(pki.caCreated, true);
    assert.equal(mode(pki.dir), 0o700);
    assert.equal(mode(pki.ca.keyPath), 0o600);
    const ca = cert(pki.ca.certPath);
    assert.equal(ca.ca, true);
    const expected = topology.regions.flatMap((region) => region.pops.map((pop) => `${region.name}-${pop.name}`));
    assert.deepEqual(pki.issued, expected);
    for (const region of topology.regions) {
      for (const pop of region.pops) {
        const issued = pki.pop(region.name, pop.name);
        const leaf = cert(issued.certPath);
        assert.equal(mode(issued.keyPath), 0o600);
        assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
        assert.equal(leaf.ca, false);
        assert.equal(leaf.subjectAltName, `URI:${popSpiffeId(topology.project, region.name, pop.name)}, DNS:${popContainer(topology.project, region.name, pop.name)}`);
        const days = (new Date(leaf.validTo).getTime() - Date.now()) / DAY_MS;
        assert.ok(days > POP_VALIDITY_DAYS - 1 && days <= POP_VALIDITY_DAYS, `${days} days left`);
      }
    }
  });

  it("BackbonePki: a second run reuses the CA and every valid certificate, and tightens a loosened key", () => {
    const dir = join(scratch, "reuse");
    const first = ensureBackbonePki(topology, dir);
    const before = readFileSync(first.pops[0]!.certPath, "utf8");
    chmodSync(first.pops[0]!.keyPath, 0o644);
    assert.equal(mode(first.pops[0]!.keyPath), 0o644);
    const second = ensureBackbonePki(topology, dir);
    assert.equal(second.caCreated, false);
    assert.deepEqual(second.issued, []);
    assert.equal(readFileSync(second.pops[0]!.certPath, "utf8"), before);
    assert.equal(mode(second.pops[0]!.keyPath), 0o600);
  });

  it("BackbonePki: a POP added to the topology gets a certificate; the others are kept", () => {
    const dir = join(scratch, "grow");
    ensureBackbonePki(topology, dir);
    const raw = validRaw();
    raw.regions[1].pops.push({ name: "p9", clientPort: 28019, statsPort: 29019, tlsPort: 28319 });
    const grown = ensureBackbonePki(validateTopology(raw), dir);
    assert.equal(grown.caCreated, false);
    assert.deepEqual(grown.issued, [`${raw.regions[1].name}-p9`]);
  });

  it("BackbonePki: a certificate near expiry, damaged or from another CA is re-issued", () => {
    const dir = join(scratch, "renew");
    const pki = ensureBackbonePki(topology, dir);
    const later = new Date(Date.now() + (POP_VALIDITY_DAYS - POP_RENEW_DAYS + 1) * DAY_MS);
    assert.deepEqual(ensureBackbonePki(topology, dir, { now: later }).issued.length, pki.pops.length, "all within the renewal window");

    const [first, second] = pki.pops as [(typeof pki.pops)[0], (typeof pki.pops)[0]];
    writeFileSync(first.keyPath, readFileSync(second.keyPath), { mode: 0o600 });
    const other = ensureBackbonePki(topology, join(scratch, "other-ca"));
    writeFileSync(second.certPath, readFileSync(other.pop(second.region, second.pop).certPath));
    assert.deepEqual(ensureBackbonePki(topology, dir).issued, [`${first.region}-${first.pop}`, `${second.region}-${second.pop}`]);
  });

  it("BackbonePki: without openssl it fails with one line naming the fix", () => {
    assert.throws(
      () => ensureBackbonePki(topology, join(scratch, "no-openssl"), { openssl: join(scratch, "missing", "openssl") }),
      (error: Error) => {
        assert.match(error.message, /^backbone PKI: .*openssl not found; install it \(apt-get install openssl\)$/);
        assert.equal(error.message.includes("\n"), false);
        return true;
      },
    );
  });
});
