-- wrk script of the load test (tests/load/load_test.py writes `entries` and `authorization` in
-- front of this file). Each request is the next entry, {target, accept, if-none-match or nil,
-- accept-encoding or nil}; each wrk thread starts at its own offset. Every response status is
-- counted, and done() prints one line "WRK_JSON {...}" with the totals, the socket errors and
-- the latency percentiles (microseconds).

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = id * 7919
  statuses = {}
end

function request()
  counter = counter + 1
  local entry = entries[(counter % #entries) + 1]
  local headers = { ["Authorization"] = authorization, ["Accept"] = entry[2] }
  if entry[3] then
    headers["If-None-Match"] = entry[3]
  end
  if entry[4] then
    headers["Accept-Encoding"] = entry[4]
  end
  return wrk.format("GET", entry[1], headers)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max,
    table.concat(parts, ",")))
end
