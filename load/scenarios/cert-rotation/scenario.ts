// cert-rotation: `npm run rotate -- certs` under HTTPS load through every POP. Each POP serves its
// new certificate within seconds, no container restarts, and no request fails.
import { readFileSync } from "node:fs";
import { connect } from "node:tls";
import { rotateCertificates } from "../../../infra/commands/rotate.ts";
import { entryOutputsFile, runWithFault, scenarioResult, sleep, type Scenario } from "../scenario.ts";
import { noFailedRequest, popStartTimes, restartedMeasurement } from "../rotations.ts";

/** The serial of the certificate a TLS listener presents now (verified against `ca`). */
function servedSerial(url: string, ca: string): Promise<string | undefined> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port), ca, servername: "localhost" }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.setTimeout(2000, () => socket.destroy());
    socket.on("error", () => resolve(undefined));
    socket.on("close", () => resolve(undefined));
  });
}

export const SERVED_TARGET_SECONDS = 10;

export const certRotation: Scenario = {
  name: "cert-rotation",
  description: "npm run rotate -- certs under HTTPS load: new serials served within 10 s, no restart, 0 failed requests",
  async run(ctx) {
    const ca = readFileSync(ctx.outputs.ca, "utf8");
    const started = await popStartTimes(ctx.topology);
    let serials: Record<string, string> = {};
    let servedAfter: number | null = null;
    const run = await runWithFault(
      ctx,
      "cert-rotation",
      { owners: noFailedRequest(ctx), https: true },
      entryOutputsFile(ctx, "cert-rotation"),
      ctx.form === "full" ? { leadSeconds: 10, faultSeconds: 60, tailSeconds: 0 } : { leadSeconds: 5, faultSeconds: 15, tailSeconds: 0 },
      {
        async inject() {
          serials = (await rotateCertificates(ctx.topology)).serials;
        },
        async during(injectedAtMs) {
          const deadline = injectedAtMs + 30_000;
          let pending = ctx.outputs.pops;
          while (pending.length > 0 && Date.now() < deadline) {
            const seen = await Promise.all(pending.map((pop) => servedSerial(pop.tlsUrl, ca)));
            pending = pending.filter((pop, i) => seen[i]?.toUpperCase() !== serials[pop.id]?.toUpperCase());
            if (pending.length > 0) await sleep(200);
          }
          if (pending.length === 0) servedAfter = (Date.now() - injectedAtMs) / 1000;
        },
      },
    );
    const after = await popStartTimes(ctx.topology);
    return scenarioResult(ctx, "cert-rotation", "npm run rotate -- certs (docker cp + mv of each POP's SDS file)", run, [
      { name: "every POP serves its new certificate", value: servedAfter, unit: "s", max: SERVED_TARGET_SECONDS },
      restartedMeasurement(started, after),
    ]);
  },
};
