// k6 script of the soak: replays the request list for exactly RESPONSES iterations shared by VUS
// virtual users, counting answers per status. Plain JavaScript: k6 runs it as is.
// Env: BASE_URL, REQUEST_FILE (JSON list of {path, headers}), RESPONSES, FIRST_ENTRY (where in the list to
// start), VUS, MAX_DURATION, SUMMARY_FILE.
import http from "k6/http";
import exec from "k6/execution";
import { SharedArray } from "k6/data";
import { Counter } from "k6/metrics";

const BASE_URL = __ENV.BASE_URL || "http://127.0.0.1:8080";
const requests = new SharedArray("requests", () => JSON.parse(open(__ENV.REQUEST_FILE)));
const FIRST_ENTRY = Number(__ENV.FIRST_ENTRY || 0);
const COUNTED = [200, 403, 404, 503, 508];
const byStatus = Object.fromEntries(COUNTED.map((status) => [status, new Counter(`soak_status_${status}`)]));
const otherStatus = new Counter("soak_status_other");
const noResponse = new Counter("soak_no_response");

export const options = {
  scenarios: {
    soak: {
      executor: "shared-iterations",
      vus: Number(__ENV.VUS || 32),
      iterations: Number(__ENV.RESPONSES || 1000),
      maxDuration: __ENV.MAX_DURATION || "10m",
    },
  },
  discardResponseBodies: true,
  summaryTrendStats: ["p(99)"],
};

export default function () {
  const request = requests[(FIRST_ENTRY + exec.scenario.iterationInTest) % requests.length];
  const response = http.get(`${BASE_URL}${request.path}`, { headers: request.headers, timeout: "10s" });
  if (response.status === 0) noResponse.add(1);
  else if (byStatus[response.status]) byStatus[response.status].add(1);
  else otherStatus.add(1);
}

export function handleSummary(data) {
  const count = (name) => (data.metrics[name] ? data.metrics[name].values.count : 0);
  const statuses = {};
  for (const status of COUNTED) statuses[status] = count(`soak_status_${status}`);
  statuses.other = count("soak_status_other");
  const result = {
    iterations: count("iterations"),
    statuses,
    noResponse: count("soak_no_response"),
    p99Ms: data.metrics.http_req_duration ? data.metrics.http_req_duration.values["p(99)"] : null,
    durationMs: data.state.testRunDurationMs,
  };
  return { [__ENV.SUMMARY_FILE]: JSON.stringify(result) };
}
