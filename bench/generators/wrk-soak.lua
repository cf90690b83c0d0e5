-- wrk script of the soak: replays a request list and stops each thread after its quota of responses.
-- Arguments (after --): <request file> <total responses> <thread count> <first list entry, 0-based>.
-- Request file: one request per line, tab-separated: method, path, then "name: value" headers.
-- Each thread prints "soak-thread <json>" with the statuses it counted when its quota is reached;
-- the caller then interrupts wrk, whose done() prints "soak-summary <json>".

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("index", #threads)
end

local requests = {}
local quota = 0
local cursor = 1
local answered = 0
local statuses = {}
local reported = false

local function split(line, separator)
  local fields = {}
  for field in string.gmatch(line, "[^" .. separator .. "]+") do
    fields[#fields + 1] = field
  end
  return fields
end

function init(args)
  for line in io.lines(args[1]) do
    local fields = split(line, "\t")
    local headers = {}
    for i = 3, #fields do
      local name, value = string.match(fields[i], "^([^:]+): (.*)$")
      -- wrk.format adds wrk's own "Host" unless this exact key is set: a "host" key would send two.
      if string.lower(name) == "host" then name = "Host" end
      headers[name] = value
    end
    requests[#requests + 1] = wrk.format(fields[1], fields[2], headers)
  end
  local total, thread_count = tonumber(args[2]), tonumber(args[3])
  quota = math.floor(total / thread_count)
  if index <= total % thread_count then quota = quota + 1 end
  -- A batch goes on where the previous one stopped; threads start at different points of the list
  -- so they do not send the same host in lockstep.
  local first = tonumber(args[4])
  cursor = (first + math.floor((index - 1) * #requests / thread_count)) % #requests + 1
end

function request()
  local next_request = requests[cursor]
  cursor = cursor % #requests + 1
  return next_request
end

local function report()
  local counts = {}
  for status, count in pairs(statuses) do
    counts[#counts + 1] = string.format('"%d":%d', status, count)
  end
  io.write(string.format('soak-thread {"thread":%d,"responses":%d,"statuses":{%s}}\n', index, answered, table.concat(counts, ",")))
  io.flush()
end

function response(status, headers, body)
  if reported then return end
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  if answered >= quota then
    reported = true
    report()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'soak-summary {"responses":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"timeouts":%d,"p50Us":%d,"p99Us":%d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(99)))
  io.flush()
end
