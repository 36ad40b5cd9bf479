-- bench/wrk/common.lua — script/bench puts this in front of every case script.
-- It numbers wrk's threads (so each seeds its own random sequence) and reports one
-- machine-readable line at the end:
--   BENCH requests duration_us connect read write timeout status p50_us p99_us max_us bytes
-- where status counts responses >= 400 (wrk's "Non-2xx or 3xx responses").

local threads_started = 0

function setup(thread)
  threads_started = threads_started + 1
  thread:set("bench_thread", threads_started)
end

-- bench_seed — a different random sequence per thread and per run.
function bench_seed()
  math.randomseed(os.time() * 1000 + (bench_thread or 0) * 7919)
  for _ = 1, 8 do math.random() end
end

-- bench_arg ARGS I DEFAULT — the I-th number after wrk's "--", else DEFAULT.
function bench_arg(args, i, default)
  return tonumber(args and args[i]) or default
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max, summary.bytes))
end
