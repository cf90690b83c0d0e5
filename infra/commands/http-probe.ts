import { readFileSync } from "node:fs";
import { request } from "node:http";
import { request as requestTls } from "node:https";

export interface ProbeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

/** How an `https://` probe checks the POP: the CA file it trusts; SNI is the Host header when one is given. */
export interface ProbeTls {
  caPath: string;
}

const caPems = new Map<string, string>();
const caPem = (path: string) => caPems.get(path) ?? caPems.set(path, readFileSync(path, "utf8")).get(path)!;

/**
 * One HTTP/1.1 GET with exactly the headers given (Host included), as a client of a POP would send
 * it. An `https://` URL needs `tls`: the certificate must verify against its CA for the Host header's
 * name (the URL's host without one).
 */
export function get(url: string, headers: Record<string, string> = {}, timeoutMs = 5000, tls?: ProbeTls): Promise<ProbeResponse> {
  const secure = url.startsWith("https:");
  if (secure && !tls) throw new Error(`GET ${url}: an https URL needs the CA to trust`);
  const host = Object.entries(headers).find(([name]) => name.toLowerCase() === "host")?.[1]?.replace(/:\d+$/, "");
  const send = secure ? requestTls : request;
  const options = secure ? { ca: caPem(tls!.caPath), ...(host ? { servername: host } : {}) } : {};
  return new Promise((resolve, reject) => {
    const req = send(url, { method: "GET", headers, timeout: timeoutMs, agent: false, ...options }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json<T>() {
            return JSON.parse(body) as T;
          },
        }),
      );
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** The fields of `x-edge-route: owner=..;source=..;pop=..;hops=..`. */
export function routeOf(res: ProbeResponse): Record<string, string> {
  const raw = String(res.headers["x-edge-route"] ?? "");
  return Object.fromEntries(raw.split(";").filter(Boolean).map((kv) => kv.split("=") as [string, string]));
}
