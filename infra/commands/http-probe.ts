import { request } from "node:http";

export interface ProbeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

/** One HTTP/1.1 GET with exactly the headers given (Host included), as a client of a POP would send it. */
export function get(url: string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<ProbeResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", headers, timeout: timeoutMs, agent: false }, (res) => {
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
