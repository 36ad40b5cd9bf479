-- bench/wrk/common.lua — script/bench puts this in front of every case script.
-- It numbers wrk's threads (so each seeds its own random sequence) and reports two
-- machine-readable lines at the end:
--   BENCH requests duration_us connect read write timeout status p50_us p99_us max_us bytes
--   QUANTILES q1 q2 ... q1000
-- where status counts responses >= 400 (wrk's "Non-2xx or 3xx responses") and q_i is
-- the latency (us) at percentile (i - 0.5) / 10: the run's distribution as 1000 points
-- of equal weight, so script/bench can merge several runs into one p50 and p99.

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
  local q = {}
  for i = 1, 1000 do
    q[i] = string.format("%d", latency:percentile((i - 0.5) / 10))
  end
  io.write("QUANTILES " .. table.concat(q, " ") .. "\n")
end
