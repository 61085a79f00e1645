-- wrk script of bench/hotpaths.py.
--   wrk ... -s hotpaths.lua URL -- get TOKEN          GET with a Bearer token
--   wrk ... -s hotpaths.lua URL -- post FILE THREADS  POST signed webhook events
-- FILE has one event a line: "<Stripe-Signature>\t<body>". Thread i sends the
-- lines i, i+THREADS, ... in turn (again from the first when all were sent:
-- redeliveries); `done` prints one JSON line.

local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
end

local mode, token
local events = {}
local index = 0

function init(args)
  mode = args[1]
  if mode == "get" then
    token = args[2]
    return
  end
  local threads = tonumber(args[3])
  local n = 0
  for line in io.lines(args[2]) do
    if n % threads == tid then
      local tab = line:find("\t", 1, true)
      events[#events + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
    end
    n = n + 1
  end
end

function request()
  if mode == "get" then
    return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token })
  end
  index = index + 1
  local event = events[((index - 1) % #events) + 1]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Stripe-Signature"] = event[1],
  }, event[2])
end

function done(summary, latency, requests)
  io.write(string.format(
    'JSON:{"requests":%d,"seconds":%.4f,"non2xx":%d,"socket_errors":%d,' ..
    '"p50_ms":%.2f,"p99_ms":%.2f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
