// One HTTP/1.1 GET of the loopback tests: a fresh connection per request, the reply with the time
// it took, and the x-edge-route header read the way the load scripts read it.
import { request } from "node:http";
import { parseRoute } from "../../load/lib/edge-response.ts";
import { ROUTE_HEADER } from "../headers.ts";

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
}

export function get(url: string, headers: Record<string, string>): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: performance.now() - started }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The reply's x-edge-route fields (owner, source, pop, hops); empty when it has none. */
export function route(reply: Reply): Record<string, string> {
  const value = reply.headers[ROUTE_HEADER];
  return parseRoute(value === undefined ? undefined : String(value));
}
