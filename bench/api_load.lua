-- The load of bench/bench_api.py, for wrk (C, epoll): cheap enough that the server, not the
-- load generator, is what the 2 shared cores spend their time on.
--
--   wrk -t 2 -c 50 -d 30s --latency -s bench/api_load.lua URL -- DATA THREADS [MEAN_DELAY_MS]
--
-- DATA is a Lua file written by bench_api.py that returns a list of users, each
-- {token = "...", paths = {"/api/v1/...", ...}}. Thread k (of THREADS) takes users k, k+T, ...
-- and cycles through their requests interleaved, so every user's token and every customer id
-- are used. MEAN_DELAY_MS = 0 is a closed loop (a connection sends its next request as soon as
-- the answer arrives); > 0 waits an exponentially distributed pause of that mean first, so
-- requests arrive at a rate the server does not set (an open loop, as near as wrk comes).
-- done() prints one JSON line that bench_api.py parses.

local thread_index = 0

function setup(thread)
  thread:set("thread_index", thread_index)
  thread_index = thread_index + 1
end

local requests_ = {}
local cursor = 0
local mean_delay = 0

function init(args)
  local users = dofile(args[1])
  local nthreads = tonumber(args[2])
  mean_delay = tonumber(args[3] or "0")
  local mine = {}
  for i, user in ipairs(users) do
    if (i - 1) % nthreads == thread_index then
      table.insert(mine, user)
    end
  end
  local longest = 0
  for _, user in ipairs(mine) do
    longest = math.max(longest, #user.paths)
  end
  for k = 1, longest do
    for _, user in ipairs(mine) do
      local path = user.paths[(k - 1) % #user.paths + 1]
      local headers = { ["Authorization"] = "Bearer " .. user.token }
      table.insert(requests_, wrk.format("GET", path, headers))
    end
  end
  math.randomseed(7 + thread_index)
  cursor = math.random(#requests_) - 1
  if mean_delay <= 0 then
    delay = nil  -- wrk checks for delay() after init: none means no timer per request
  end
end

function request()
  cursor = cursor % #requests_ + 1
  return requests_[cursor]
end

function delay()
  return -mean_delay * math.log(1 - math.random())
end

function done(summary, latency, requests)
  local ms = function(us) return us / 1000.0 end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_s": %.3f, "p50": %.3f, "p90": %.3f, "p95": %.3f, '
      .. '"p99": %.3f, "p999": %.3f, "mean": %.3f, "max": %.3f, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration / 1e6,
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(95)),
    ms(latency:percentile(99)), ms(latency:percentile(99.9)), ms(latency.mean), ms(latency.max),
    e.connect, e.read, e.write, e.status, e.timeout))
end
