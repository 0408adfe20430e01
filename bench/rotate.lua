-- wrk script of the benchmark suite (bench/bench.py): rotates through the request paths listed
-- in a file, one per line, so the load is spread over many distinct URLs instead of one hot one.
--   wrk -t1 -c64 -d3s -H 'Accept: text/html' -s bench/rotate.lua http://127.0.0.1:PORT/ -- PATHS
-- Headers come from wrk's -H options and are the same for every request. Requests are formatted
-- once in init(), so the script adds next to nothing per request. done() prints one line
-- "BENCH_JSON {...}" with the totals and latency percentiles (microseconds) for bench.py.

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
end

local prepared = {}
local position = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      prepared[#prepared + 1] = wrk.format(nil, line)
    end
  end
  if #prepared == 0 then
    error("no paths in " .. args[1])
  end
  -- Threads start at different places in the list.
  position = ((thread_id or 1) - 1) * 7919 % #prepared
end

function request()
  position = position % #prepared + 1
  return prepared[position]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"bytes":%d,"duration_us":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
