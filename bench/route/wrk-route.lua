-- wrk script of the routing benchmark: replays a request list in order, one list entry per request,
-- and prints "route-summary <json>" when the run ends. No response() hook: wrk counts statuses
-- above 399 itself (errors.status), and a Lua call per response would cost the client CPU.
-- Argument (after --): the request file, one request per line, tab-separated: path, then "name: value" headers.

local requests = {}
local cursor = 0

function init(args)
  for line in io.lines(args[1]) do
    local fields = {}
    for field in string.gmatch(line, "[^\t]+") do fields[#fields + 1] = field end
    local headers = {}
    for i = 2, #fields do
      local name, value = string.match(fields[i], "^([^:]+): (.*)$")
      -- wrk.format adds its own Host unless this exact key is set.
      if string.lower(name) == "host" then name = "Host" end
      headers[name] = value
    end
    requests[#requests + 1] = wrk.format("GET", fields[1], headers)
  end
end

function request()
  cursor = cursor % #requests + 1
  return requests[cursor]
end

function done(summary, latency, _)
  local errors = summary.errors
  io.write(string.format(
    'route-summary {"requests":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"statusErrors":%d,"timeouts":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
  io.flush()
end
