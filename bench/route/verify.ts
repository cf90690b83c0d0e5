// Before an arm is timed, each of its routing cases is sent a few times: every answer must be a 200
// from the upstream listener of the expected cluster (and name the expected owner source). The
// first mismatch ends the benchmark with its cause; an arm that fails here gets no numbers.
import { request as httpRequest } from "node:http";
import { CLUSTER_HEADER, ROUTE_HEADER } from "../../edge/headers.ts";
import type { BenchRequest, RoutingCase } from "./arms.ts";
import { ECHOED_CLUSTER_HEADER, UPSTREAM_CLUSTER_HEADER } from "./upstream.ts";

export const REQUESTS_PER_CASE = 3;

export class RoutingError extends Error {}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function send(url: string, request: BenchRequest): Promise<Answer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: target.hostname, port: target.port, path: request.path, headers: request.headers, agent: false, timeout: 10_000 },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error("no answer within 10 s")));
    outgoing.on("error", reject);
    outgoing.end();
  });
}

const header = (answer: Answer, name: string) => {
  const value = answer.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
};

export interface CaseResult {
  name: string;
  cluster: string;
  requests: number;
  /** x-edge-route of the last answer, when the region router ran. */
  route: string | null;
}

/** Why `answer` is not what `routingCase` expects; null when it is. */
export function mismatch(routingCase: RoutingCase, answer: Answer): string | null {
  const reached = header(answer, UPSTREAM_CLUSTER_HEADER);
  if (answer.status !== 200) {
    return `answered ${answer.status}${reached ? ` from ${reached}` : ""} (body: ${answer.body.trim().slice(0, 200) || "empty"}); expected 200 from cluster ${routingCase.cluster}`;
  }
  if (reached !== routingCase.cluster) {
    const sent = header(answer, ECHOED_CLUSTER_HEADER);
    return `reached cluster ${reached ?? "(no upstream header: not the bench upstream)"}${sent ? ` (the upstream saw ${CLUSTER_HEADER}: ${sent})` : ""}; expected ${routingCase.cluster}`;
  }
  if (routingCase.source !== undefined) {
    const route = header(answer, ROUTE_HEADER) ?? "";
    if (!route.split(";").includes(`source=${routingCase.source}`)) return `${ROUTE_HEADER} is "${route}"; expected source=${routingCase.source}`;
  }
  return null;
}

/** Checks every case of an arm; throws RoutingError naming the arm, the case and the cause. */
export async function verifyRouting(arm: string, url: string, cases: RoutingCase[], perCase = REQUESTS_PER_CASE): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const routingCase of cases) {
    if (routingCase.warm) await send(url, routingCase.request);
    let last: Answer | null = null;
    for (let n = 1; n <= perCase; n++) {
      let answer: Answer;
      try {
        answer = await send(url, routingCase.request);
      } catch (error) {
        throw new RoutingError(`arm ${arm}, case "${routingCase.name}": request ${n} of ${perCase} got no answer: ${(error as Error).message}`);
      }
      const problem = mismatch(routingCase, answer);
      if (problem) throw new RoutingError(`arm ${arm}, case "${routingCase.name}": request ${n} of ${perCase} ${problem}`);
      last = answer;
    }
    results.push({ name: routingCase.name, cluster: routingCase.cluster, requests: perCase, route: last ? (header(last, ROUTE_HEADER) ?? null) : null });
  }
  return results;
}
